/**
 * The Kafka test broker through kafkajs 2.2.4 (the client our Kafka transport and source use):
 * topic creation, an idempotent gzip producer, consumer groups with offsets and rebalances, and an
 * idempotent producer surviving dropped connections and lost acknowledgements without duplicates.
 */
import { CompressionTypes, type Consumer, Kafka, logLevel, Partitioners } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type KafkaBroker, startKafkaBroker } from '../kafka-broker/broker.js';

let broker: KafkaBroker;
const brokerLog: string[] = [];
const consumers: Consumer[] = [];

beforeAll(async () => {
  broker = await startKafkaBroker({ log: (message) => brokerLog.push(message) });
});

afterAll(async () => {
  await Promise.all(consumers.map((consumer) => consumer.disconnect()));
  await broker.stop();
});

function client(clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: [broker.brokers],
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 50, retries: 10 },
  });
}

async function createTopic(topic: string, numPartitions: number): Promise<void> {
  const admin = client('admin').admin();
  await admin.connect();
  try {
    expect(await admin.createTopics({ topics: [{ topic, numPartitions }] })).toBe(true);
  } finally {
    await admin.disconnect();
  }
}

interface Produced {
  key: string;
  value: string;
}

/** `count` keyed messages (8 keys), sent by an idempotent gzip producer in sends of `perSend`. */
async function produceKeyed(
  topic: string,
  count: number,
  perSend: number,
  from = 0,
  duringSend: (sendIndex: number) => void = () => {},
): Promise<Produced[]> {
  const producer = client('producer').producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const produced: Produced[] = [];
  try {
    for (let start = from; start < from + count; start += perSend) {
      const messages = Array.from({ length: Math.min(perSend, from + count - start) }, (_, index) => ({
        key: `key-${(start + index) % 8}`,
        value: `message-${start + index}`,
      }));
      duringSend(produced.length / perSend);
      await producer.send({ topic, compression: CompressionTypes.GZIP, acks: -1, messages });
      produced.push(...messages);
    }
  } finally {
    await producer.disconnect();
  }
  return produced;
}

interface Consumed {
  partition: number;
  offset: number;
  key: string;
  value: string;
}

/** Joins `groupId` and collects messages of `topic` until `until` holds; returns the running consumer. */
async function consumeUntil(
  groupId: string,
  topic: string,
  received: Consumed[],
  until: () => boolean,
): Promise<Consumer> {
  const consumer = client(`consumer-${groupId}`).consumer({ groupId, maxWaitTimeInMs: 100 });
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      received.push({
        partition,
        offset: Number(message.offset),
        key: message.key?.toString() ?? '',
        value: message.value?.toString() ?? '',
      });
    },
  });
  await vi.waitFor(() => expect(until()).toBe(true), { timeout: 30_000, interval: 50 });
  return consumer;
}

async function stop(consumer: Consumer): Promise<void> {
  await consumer.disconnect();
  consumers.splice(consumers.indexOf(consumer), 1);
}

/** Every produced message exactly once, each key's messages in production order, offsets rising. */
function expectExactlyOnceInOrder(produced: Produced[], consumed: Consumed[]): void {
  expect(consumed.map((message) => message.value).sort()).toEqual(
    produced.map((message) => message.value).sort(),
  );
  for (const key of new Set(produced.map((message) => message.key))) {
    const sent = produced.filter((message) => message.key === key).map((message) => message.value);
    const got = consumed.filter((message) => message.key === key);
    expect(got.map((message) => message.value)).toEqual(sent);
    expect(new Set(got.map((message) => message.partition)).size).toBe(1);
  }
  for (const partition of new Set(consumed.map((message) => message.partition))) {
    const offsets = consumed
      .filter((message) => message.partition === partition)
      .map((message) => message.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  }
}

describe('Kafka test broker with kafkajs', () => {
  it('creates topics with CreateTopics, honouring validate-only and refusing duplicates', async () => {
    const admin = client('admin').admin();
    await admin.connect();
    try {
      const validated = await admin.createTopics({
        validateOnly: true,
        waitForLeaders: false,
        topics: [{ topic: 'validated-only', numPartitions: 2 }],
      });
      expect(validated).toBe(true);
      expect(await admin.listTopics()).not.toContain('validated-only');

      expect(await admin.createTopics({ topics: [{ topic: 'created', numPartitions: 3 }] })).toBe(true);
      expect(await admin.createTopics({ topics: [{ topic: 'created', numPartitions: 3 }] })).toBe(false);
      const metadata = await admin.fetchTopicMetadata({ topics: ['created'] });
      expect(
        metadata.topics[0]?.partitions.map(({ partitionId, leader }) => ({ partitionId, leader })),
      ).toEqual([
        { partitionId: 0, leader: 0 },
        { partitionId: 1, leader: 0 },
        { partitionId: 2, leader: 0 },
      ]);
      await expect(
        admin.createTopics({ topics: [{ topic: 'bad/name', numPartitions: 1 }], waitForLeaders: false }),
      ).rejects.toThrow();
    } finally {
      await admin.disconnect();
    }
  });

  it('delivers an idempotent gzip producer’s keyed messages to a group exactly once, in order, and resumes a new member after the committed offsets', async () => {
    await createTopic('orders', 3);
    const produced = await produceKeyed('orders', 120, 10);

    const first: Consumed[] = [];
    const consumer = await consumeUntil(
      'orders-group',
      'orders',
      first,
      () => first.length >= produced.length,
    );
    await stop(consumer); // commits and leaves the group
    expectExactlyOnceInOrder(produced, first);
    expect(new Set(first.map((message) => message.partition))).toEqual(new Set([0, 1, 2]));

    const admin = client('admin').admin();
    await admin.connect();
    const committed = await admin.fetchOffsets({ groupId: 'orders-group', topics: ['orders'] });
    const ends = await admin.fetchTopicOffsets('orders');
    await admin.disconnect();
    expect(
      committed[0]?.partitions
        .map(({ partition, offset }) => ({ partition, offset }))
        .sort((a, b) => a.partition - b.partition),
    ).toEqual(ends.map(({ partition, high }) => ({ partition, offset: high })));

    const more = await produceKeyed('orders', 30, 10, produced.length);
    const second: Consumed[] = [];
    const resumed = await consumeUntil('orders-group', 'orders', second, () => second.length >= more.length);
    await stop(resumed);
    expectExactlyOnceInOrder(more, second);
  });

  it('splits partitions between two members, gives all to the survivor when one leaves, and rebalances when forced', async () => {
    await createTopic('shared', 3);
    /** Each member's partitions after its latest join, and how often it joined. */
    const assigned = new Map<Consumer, number[]>();
    const joinCount = new Map<Consumer, number>();
    const startMember = async (name: string) => {
      const consumer = client(name).consumer({
        groupId: 'shared-group',
        maxWaitTimeInMs: 100,
        heartbeatInterval: 200,
      });
      consumers.push(consumer);
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        assigned.set(consumer, [...(payload.memberAssignment.shared ?? [])].sort());
        joinCount.set(consumer, (joinCount.get(consumer) ?? 0) + 1);
      });
      await consumer.connect();
      await consumer.subscribe({ topic: 'shared', fromBeginning: true });
      await consumer.run({ eachMessage: async () => {} });
      return consumer;
    };
    const waitUntil = (check: () => void) => vi.waitFor(check, { timeout: 30_000, interval: 50 });

    const memberA = await startMember('member-a');
    await waitUntil(() => expect(assigned.get(memberA)).toEqual([0, 1, 2]));

    const memberB = await startMember('member-b');
    await waitUntil(() => {
      const a = assigned.get(memberA) ?? [];
      const b = assigned.get(memberB) ?? [];
      expect(a.length).toBeGreaterThan(0);
      expect(b.length).toBeGreaterThan(0);
      expect([...a, ...b].sort()).toEqual([0, 1, 2]);
    });

    await stop(memberB);
    await waitUntil(() => expect(assigned.get(memberA)).toEqual([0, 1, 2]));

    const joinsBefore = joinCount.get(memberA) ?? 0;
    broker.faults.forceRebalance('shared-group');
    await waitUntil(() => expect(joinCount.get(memberA)).toBeGreaterThan(joinsBefore));
    expect(assigned.get(memberA)).toEqual([0, 1, 2]);
    expect(brokerLog).toContain('group shared-group: rebalancing (forced by a test)');
  });

  it('keeps an idempotent producer exactly-once through dropped connections and lost acknowledgements', async () => {
    await createTopic('retried', 2);
    const produced = await produceKeyed('retried', 200, 5, 0, (sendIndex) => {
      // Lost acks make the producer retry batches the broker already stored; plain drops hit
      // connections at arbitrary points (idle, mid-request, between retries).
      if (sendIndex % 10 === 3) broker.faults.loseProduceAcks();
      if (sendIndex % 10 === 7) broker.faults.dropConnections();
    });
    expect(brokerLog.some((line) => line.startsWith('duplicate batch from producer'))).toBe(true);

    const consumed: Consumed[] = [];
    const consumer = await consumeUntil(
      'retried-group',
      'retried',
      consumed,
      () => consumed.length >= produced.length,
    );
    await stop(consumer);
    expectExactlyOnceInOrder(produced, consumed);

    const admin = client('admin').admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets('retried');
    await admin.disconnect();
    // The log holds each message once: its end offsets add up to what was produced.
    expect(ends.reduce((total, { high }) => total + Number(high), 0)).toBe(produced.length);
  });
});
