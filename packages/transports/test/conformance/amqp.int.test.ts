import { AMQP_URL, brokerGate, runTransportConformance } from '@wakame/testkit';

// RabbitMQ routes natively: the same suite, gated only by the capabilities the AMQP transport declares.
const gate = await brokerGate('amqp conformance', { name: 'rabbitmq', url: AMQP_URL });

runTransportConformance({ name: 'amqp', url: () => AMQP_URL, skip: gate === 'skip' });
