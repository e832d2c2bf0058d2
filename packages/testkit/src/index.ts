export {
  AMQP_URL,
  BEANSTALK_URL,
  type BrokerCheck,
  brokerGate,
  brokersRequired,
  MYSQL_URL,
  POSTGRES_URL,
  probe,
  RABBITMQ_MANAGEMENT_URL,
  REDIS_URL,
  redisUrl,
  ZOOKEEPER_URL,
} from './brokers.js';
export {
  CLUSTER_SCRIPTS_DIR,
  clusterManagement,
  killRabbitNode,
  killRedisNode,
  type QueuePlacement,
  queuePlacement,
  RABBITMQ_CLUSTER_MANAGEMENT_URLS,
  RABBITMQ_CLUSTER_NODES,
  RABBITMQ_CLUSTER_URL,
  RABBITMQ_CLUSTER_URLS,
  type RabbitClusterNode,
  REDIS_CLUSTER_PORTS,
  REDIS_CLUSTER_URL,
  REDIS_SENTINEL_MASTER,
  REDIS_SENTINEL_PORTS,
  REDIS_SENTINEL_URL,
  rabbitClusterUrlFrom,
  rabbitCtl,
  rabbitNodeIndexOf,
  restartRedisNode,
  runClusterScript,
  startRabbitNode,
  stopRabbitNode,
  waitForQueuePlacement,
  waitForRabbitClusterWhole,
} from './clusters.js';
export { type ConformanceOptions, runTransportConformance } from './conformance/index.js';
export { type FailoverResult, type FailoverScenario, failoverTable, runFailoverScenario } from './failover.js';
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
