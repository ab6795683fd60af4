/**
 * A Kafka wire-protocol broker for tests, in-process on a random loopback port: one broker (node 0)
 * that leads every partition and coordinates every group. Enough of the protocol for kafkajs and
 * librdkafka (kcat) to produce, consume and run consumer groups; README.md next to it says what is
 * implemented and what the clients negotiate.
 */

import { groupApis } from './group-apis.js';
import { GroupCoordinator } from './group-coordinator.js';
import { logApis } from './log-apis.js';
import { LogStore, topicNameProblem } from './log-store.js';
import { metadataApis } from './metadata-apis.js';
import type { ApiHandler, Log } from './protocol.js';
import { type KafkaServer, type RequestObserver, startServer } from './server.js';

export interface KafkaBrokerOptions {
  /** Topics that exist from the start. */
  topics?: readonly { name: string; partitions: number }[];
  /** Whether Metadata creates unknown topics (one partition) when the client allows it; default true, as Kafka. */
  autoCreateTopics?: boolean;
  /** Receives what a broker would log: unsupported requests, group changes, topic creation. Quiet by default. */
  log?: Log;
  /** Sees every request served: which API, which version, which client (for negotiation tests). */
  onRequest?: RequestObserver;
}

export interface KafkaBrokerFaults {
  /** Closes every client connection now; clients reconnect to the still-listening broker. */
  dropConnections(): void;
  /**
   * The next `count` acknowledged Produce requests are appended, then their connection is closed
   * instead of answering: the producer cannot know the write happened (a lost ack).
   */
  loseProduceAcks(count?: number): void;
  /** Fetches of the partition return no records for `ms` milliseconds. */
  stallPartition(topic: string, partition: number, ms: number): void;
  /** Starts a rebalance of the group: its members' next heartbeats answer REBALANCE_IN_PROGRESS. */
  forceRebalance(groupId: string): void;
}

export interface KafkaBroker {
  readonly host: string;
  readonly port: number;
  /** `host:port`, the bootstrap servers string. */
  readonly brokers: string;
  readonly faults: KafkaBrokerFaults;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const log = options.log ?? (() => {});
  const store = new LogStore();
  for (const topic of options.topics ?? []) {
    const problem = topicNameProblem(topic.name);
    if (problem) throw new Error(`startKafkaBroker: ${problem}`);
    if (!Number.isInteger(topic.partitions) || topic.partitions < 1) {
      throw new Error(`startKafkaBroker: topic ${topic.name} needs a whole number of partitions >= 1`);
    }
    store.createTopic(topic.name, topic.partitions);
  }
  const coordinator = new GroupCoordinator(log);
  let server: KafkaServer | undefined;
  const address = {
    host: HOST,
    port: () => server?.port ?? 0,
  };
  let produceAcksToLose = 0;
  const loseAcks = (handler: ApiHandler): ApiHandler => ({
    ...handler,
    async handle(context) {
      const response = await handler.handle(context);
      if (response !== null && produceAcksToLose > 0) {
        produceAcksToLose--;
        log(
          `fault: closing the connection of ${context.clientId} instead of acknowledging its produce request`,
        );
        context.dropConnectionInsteadOfResponding();
      }
      return response;
    },
  });
  const handlers = [
    ...metadataApis(store, address, { autoCreateTopics: options.autoCreateTopics ?? true, log }),
    ...logApis(store, log).map((handler) => (handler.name === 'Produce' ? loseAcks(handler) : handler)),
    ...groupApis(coordinator, address),
  ];
  server = await startServer(handlers, log, options.onRequest ?? (() => {}), HOST);
  const { port } = server;
  const running = server;
  return {
    host: HOST,
    port,
    brokers: `${HOST}:${port}`,
    faults: {
      dropConnections: () => running.dropConnections(),
      loseProduceAcks(count = 1) {
        produceAcksToLose += count;
      },
      stallPartition(topic, partition, ms) {
        const partitionLog = store.partition(topic, partition);
        if (!partitionLog) throw new Error(`stallPartition: no partition ${topic}/${partition}`);
        partitionLog.stalledUntil = Date.now() + ms;
      },
      forceRebalance: (groupId) => coordinator.forceRebalance(groupId),
    },
    async stop() {
      coordinator.close();
      await running.close();
    },
  };
}
