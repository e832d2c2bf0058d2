export {
  AMQP_URL,
  type BrokerCheck,
  brokerGate,
  brokersRequired,
  MYSQL_URL,
  POSTGRES_URL,
  probe,
  RABBITMQ_MANAGEMENT_URL,
  REDIS_URL,
  redisUrl,
} from './brokers.js';
export { type ConformanceOptions, runTransportConformance } from './conformance/index.js';
export { type FreshBroker, type FreshBrokersOptions, freshBrokers } from './fresh-brokers.js';
export {
  amqpUrlForVhost,
  connectionsNamed,
  createVhost,
  deleteVhost,
  killConnections,
  MANAGEMENT_ENDPOINT,
  management,
} from './management.js';
export { requiredOnly } from './required-only-store.js';
export { Latch, randomName, type WaitForOptions, waitFor, within } from './wait-for.js';
