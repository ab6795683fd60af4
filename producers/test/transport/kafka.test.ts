import { createRequire } from 'node:module';
import { decodeSingleObject } from '@genai-pipeline/schemas';
import { CompressionTypes, Kafka, type ProducerRecord, type RecordMetadata } from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEmitter } from '../../src/emitter/emitter.js';
import {
  createIdempotentProducer,
  type KafkaProducerLike,
  KafkaTransport,
} from '../../src/transport/kafka.js';
import { invocation, score } from '../support/fixtures.js';

// kafkajs' own error classes, so `retriable` flags are the library's (its index does not export them).
type KafkaErrorClass = new (message: string | Error, options?: object) => Error;
const kafkaErrors = createRequire(import.meta.url)('kafkajs/src/errors') as {
  KafkaJSConnectionError: KafkaErrorClass;
  KafkaJSNonRetriableError: KafkaErrorClass;
  KafkaJSNumberOfRetriesExceeded: KafkaErrorClass;
};
const { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded } = kafkaErrors;

/** Implements the kafkajs producer methods the transport uses; `failures` are thrown in turn. */
class FakeProducer implements KafkaProducerLike {
  connects = 0;
  disconnects = 0;
  readonly requests: ProducerRecord[] = [];
  readonly failures: Error[] = [];
  connectFailures: Error[] = [];

  async connect(): Promise<void> {
    this.connects++;
    const failure = this.connectFailures.shift();
    if (failure) throw failure;
  }
  async send(record: ProducerRecord): Promise<RecordMetadata[]> {
    this.requests.push(record);
    const failure = this.failures.shift();
    if (failure) throw failure;
    return [];
  }
  async disconnect(): Promise<void> {
    this.disconnects++;
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('KafkaTransport', () => {
  it('sends keyed single-object Avro with acks=all and gzip, connecting once', async () => {
    const producer = new FakeProducer();
    const emitter = createEmitter({
      transport: new KafkaTransport({ topic: 'genai-events', producer }),
      maxBatchEvents: 2,
    });
    const events = [invocation(), invocation({ model_id: 'gpt-4o' }), score()];
    for (const e of events) emitter.emit(e);
    await emitter.close();
    expect(producer.connects).toBe(1);
    expect(producer.disconnects).toBe(1);
    expect(producer.requests).toHaveLength(2);
    expect(producer.requests[0]).toMatchObject({
      topic: 'genai-events',
      acks: -1,
      compression: CompressionTypes.GZIP,
    });
    const messages = producer.requests.flatMap((r) => r.messages);
    expect(messages.map((m) => m.key)).toEqual([
      'support-bot\u0000anthropic.claude-3-5-sonnet-20241022-v2:0',
      'support-bot\u0000gpt-4o',
      'support-bot\u0000anthropic.claude-3-5-sonnet-20241022-v2:0',
    ]);
    const decoded = messages.map((m) => decodeSingleObject(m.value as Buffer));
    expect(decoded.map((d) => [d.kind, (d.record as { event_id: string }).event_id])).toEqual(
      events.map((e) => [e.kind ?? 'invocation', e.event_id]),
    );
  });

  it('retries what kafkajs marks retriable, including an exhausted retriable cause', async () => {
    vi.useFakeTimers();
    const producer = new FakeProducer();
    producer.failures.push(
      new KafkaJSConnectionError('Connection error: ECONNREFUSED'),
      new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('broker down'), {
        retryCount: 5,
        retryTime: 100,
      }),
    );
    const emitter = createEmitter({
      transport: new KafkaTransport({ topic: 't', producer }),
      retry: { maxDelayMs: 50 },
    });
    emitter.emit(invocation());
    const flushed = emitter.flush();
    await vi.advanceTimersByTimeAsync(200);
    await flushed;
    expect(producer.requests).toHaveLength(3);
    expect(emitter.stats()).toMatchObject({ sent: 1, retried: 2 });
  });

  it('drops a batch kafkajs marks not retriable', async () => {
    const producer = new FakeProducer();
    producer.failures.push(new KafkaJSNonRetriableError('Topic authorization failed'));
    const emitter = createEmitter({ transport: new KafkaTransport({ topic: 't', producer }) });
    emitter.emit(invocation());
    emitter.emit(invocation());
    await emitter.flush();
    expect(producer.requests).toHaveLength(1);
    expect(emitter.stats().dropped.rejected).toBe(2);
  });

  it('connects again after a failed connect', async () => {
    vi.useFakeTimers();
    const producer = new FakeProducer();
    producer.connectFailures = [new KafkaJSConnectionError('no broker')];
    const emitter = createEmitter({
      transport: new KafkaTransport({ topic: 't', producer }),
      retry: { maxDelayMs: 50 },
    });
    emitter.emit(invocation());
    const flushed = emitter.flush();
    await vi.advanceTimersByTimeAsync(100);
    await flushed;
    expect(producer.connects).toBe(2);
    expect(emitter.stats().sent).toBe(1);
  });

  it('creates an idempotent producer with one request in flight', () => {
    const configs: unknown[] = [];
    const kafka = {
      producer: (config: unknown) => {
        configs.push(config);
        return new FakeProducer();
      },
    } as unknown as Kafka;
    createIdempotentProducer(kafka);
    expect(configs[0]).toMatchObject({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 5 } });
    expect(() => new KafkaTransport({ topic: 't' })).toThrow(/either producer or kafka/);
  });
});

const brokers = process.env.KAFKA_BROKERS;
if (!brokers) console.info('kafka real-broker suite skipped: KAFKA_BROKERS is not set');

describe.skipIf(!brokers)('KafkaTransport against a real broker (KAFKA_BROKERS)', () => {
  it('delivers keyed events that a consumer reads back, one key per partition', async () => {
    const kafka = new Kafka({ clientId: 'genai-producers-test', brokers: (brokers ?? '').split(',') });
    const topic = `genai-producers-test-${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    await admin.disconnect();

    const emitter = createEmitter({ transport: new KafkaTransport({ topic, kafka }), maxBatchEvents: 25 });
    const models = ['m-a', 'm-b', 'm-c', 'm-d'];
    const events = Array.from({ length: 100 }, (_, i) => invocation({ model_id: models[i % models.length] }));
    for (const e of events) emitter.emit(e);
    await emitter.close();
    expect(emitter.stats().sent).toBe(100);

    const consumer = kafka.consumer({ groupId: `${topic}-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: { key: string; partition: number; id: string }[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const decoded = decodeSingleObject(message.value as Buffer);
          seen.push({
            key: String(message.key),
            partition,
            id: (decoded.record as { event_id: string }).event_id,
          });
          if (seen.length === events.length) resolve();
        },
      });
    });
    await consumer.disconnect();
    expect(new Set(seen.map((s) => s.id))).toEqual(new Set(events.map((e) => e.event_id)));
    const partitionsOfKey = new Map<string, Set<number>>();
    for (const s of seen)
      partitionsOfKey.set(s.key, (partitionsOfKey.get(s.key) ?? new Set()).add(s.partition));
    for (const partitions of partitionsOfKey.values()) expect(partitions.size).toBe(1);
  });
});
