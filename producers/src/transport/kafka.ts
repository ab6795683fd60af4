/**
 * Kafka transport (kafkajs). Messages: key = `partitionKeyOf(event)` (service and model, so one
 * rollup key stays in one partition, in order), value = single-object Avro. The producer is
 * idempotent (acks = all, one request in flight per connection: broker-side dedupe of kafkajs'
 * own retries without reordering). A batch is one `producer.send`; kafkajs reports a failure for
 * the whole call, so the emitter retries the whole batch when the error's `retriable` flag says so.
 * A batch re-sent by the emitter after kafkajs gave up may duplicate records already written:
 * consumers drop duplicates by event_id (CONTRACT.md §2).
 */

import { encodeSingleObject, type TelemetryEvent } from '@genai-pipeline/schemas';
import { CompressionTypes, type Kafka, type Message, type Producer, type ProducerRecord } from 'kafkajs';
import { partitionKeyOf } from './partition-key.js';
import {
  DELIVERED,
  type OutgoingRecord,
  type SendResult,
  type Transport,
  type TransportLimits,
} from './transport.js';

/** The kafkajs producer methods this transport uses (tests stand in for it). */
export type KafkaProducerLike = Pick<Producer, 'connect' | 'send' | 'disconnect'>;

export interface KafkaTransportOptions {
  topic: string;
  /** A producer to use as is; otherwise one is made from `kafka` by `createIdempotentProducer`. */
  producer?: KafkaProducerLike;
  kafka?: Kafka;
  /** Default gzip (built into kafkajs; snappy/lz4/zstd need codecs registered by the app). */
  compression?: CompressionTypes;
  /** Broker-side request timeout for acks, ms. Default 30 s. */
  ackTimeoutMs?: number;
  /** Largest producer request; the broker's `message.max.bytes` is 1 MiB by default. */
  maxBatchBytes?: number;
}

export interface KafkaRecord extends OutgoingRecord {
  readonly key: string;
  readonly value: Buffer;
}

/**
 * An idempotent kafkajs producer: `idempotent: true` needs acks = -1 and at most one request in
 * flight per connection to keep order. kafkajs defaults an idempotent producer's retries to
 * Number.MAX_SAFE_INTEGER, which would make a send during an outage never return; the emitter
 * holds, bounds and retries batches itself, so kafkajs gets a few quick retries (it logs a warning
 * that limited retries may duplicate, which event_id dedupe downstream absorbs).
 */
export function createIdempotentProducer(kafka: Kafka, retries = 5): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    retry: { retries },
  });
}

export class KafkaTransport implements Transport<KafkaRecord> {
  readonly name = 'kafka';
  readonly limits: TransportLimits;
  private readonly topic: string;
  private readonly producer: KafkaProducerLike;
  private readonly compression: CompressionTypes;
  private readonly ackTimeoutMs: number;
  private connecting: Promise<void> | undefined;

  constructor(options: KafkaTransportOptions) {
    if (options.topic.length === 0) throw new TypeError('topic must be a non-empty string');
    const producer = options.producer ?? (options.kafka && createIdempotentProducer(options.kafka));
    if (producer === undefined) throw new TypeError('either producer or kafka must be given');
    this.topic = options.topic;
    this.producer = producer;
    this.compression = options.compression ?? CompressionTypes.GZIP;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
    const maxBatchBytes = options.maxBatchBytes ?? 1024 * 1024;
    this.limits = { maxBatchEvents: 10_000, maxBatchBytes, maxRecordBytes: maxBatchBytes };
  }

  encode(event: TelemetryEvent): KafkaRecord {
    const key = partitionKeyOf(event);
    const value = encodeSingleObject(event);
    return { key, value, bytes: value.length + Buffer.byteLength(key) };
  }

  async send(batch: readonly KafkaRecord[]): Promise<SendResult> {
    await this.connect();
    const messages: Message[] = batch.map((record) => ({ key: record.key, value: record.value }));
    const request: ProducerRecord = {
      topic: this.topic,
      messages,
      acks: -1,
      timeout: this.ackTimeoutMs,
      compression: this.compression,
    };
    await this.producer.send(request);
    return DELIVERED;
  }

  async close(): Promise<void> {
    if (this.connecting === undefined) return;
    this.connecting = undefined;
    await this.producer.disconnect();
  }

  /** Connects once; a failed connect is forgotten so the next batch tries again. */
  private connect(): Promise<void> {
    this.connecting ??= this.producer.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }
}

export function kafkaTransport(options: KafkaTransportOptions): KafkaTransport {
  return new KafkaTransport(options);
}
