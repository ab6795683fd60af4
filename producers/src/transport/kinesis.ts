/**
 * Kinesis Data Streams transport: one PutRecords call per batch (<= 500 records, <= 5 MiB with the
 * partition keys, <= 1 MiB per record with its key), Data = single-object Avro, PartitionKey =
 * `partitionKeyOf(event)` so one rollup key stays on one shard. PutRecords is not atomic: the
 * response's per-record `ErrorCode` marks failed records, and only those are retried
 * (ProvisionedThroughputExceededException and InternalFailure are the retriable codes).
 */

import {
  KinesisClient,
  PutRecordsCommand,
  type PutRecordsCommandInput,
  type PutRecordsCommandOutput,
} from '@aws-sdk/client-kinesis';
import { encodeSingleObject, type TelemetryEvent } from '@genai-pipeline/schemas';
import { partitionKeyOf } from './partition-key.js';
import {
  DELIVERED,
  type OutgoingRecord,
  type RecordFailure,
  type SendResult,
  type Transport,
  type TransportLimits,
} from './transport.js';

/** The one Kinesis call this transport makes (tests stand in for it). */
export interface KinesisClientLike {
  putRecords(
    input: PutRecordsCommandInput,
  ): Promise<Pick<PutRecordsCommandOutput, 'FailedRecordCount' | 'Records'>>;
}

export interface KinesisTransportOptions {
  /** Give the stream's name or its ARN. */
  streamName?: string;
  streamArn?: string;
  /**
   * A configured SDK client (region, credentials, endpoint; against a local endpoint pass
   * `requestHandler: new NodeHttpHandler()`) or a `KinesisClientLike`. Default: `new KinesisClient({})`,
   * the SDK's standard configuration (AWS_REGION, AWS_ENDPOINT_URL_KINESIS, credential chain).
   */
  client?: KinesisClient | KinesisClientLike;
}

export interface KinesisRecord extends OutgoingRecord {
  readonly partitionKey: string;
  readonly data: Buffer;
}

/** PutRecords quotas (Kinesis API reference, PutRecords and PutRecordsRequestEntry). */
export const KINESIS_LIMITS: Readonly<TransportLimits> = Object.freeze({
  maxBatchEvents: 500,
  maxBatchBytes: 5 * 1024 * 1024,
  maxRecordBytes: 1024 * 1024,
});

/** Per-record ErrorCodes of PutRecords that mean "try this record again". */
const RETRIABLE_RECORD_ERRORS = new Set(['ProvisionedThroughputExceededException', 'InternalFailure']);

function adapt(client: KinesisClient | KinesisClientLike): KinesisClientLike {
  if ('putRecords' in client) return client;
  return { putRecords: (input) => client.send(new PutRecordsCommand(input)) };
}

export class KinesisTransport implements Transport<KinesisRecord> {
  readonly name = 'kinesis';
  readonly limits = KINESIS_LIMITS;
  private readonly client: KinesisClientLike;
  private readonly target: Pick<PutRecordsCommandInput, 'StreamName' | 'StreamARN'>;
  /** A client this transport made itself, destroyed on close(). */
  private readonly ownClient: KinesisClient | undefined;

  constructor(options: KinesisTransportOptions) {
    if (!options.streamName && !options.streamArn) throw new TypeError('streamName or streamArn is required');
    this.target = options.streamArn ? { StreamARN: options.streamArn } : { StreamName: options.streamName };
    this.ownClient = options.client === undefined ? new KinesisClient({}) : undefined;
    this.client = adapt(options.client ?? (this.ownClient as KinesisClient));
  }

  async close(): Promise<void> {
    this.ownClient?.destroy();
  }

  encode(event: TelemetryEvent): KinesisRecord {
    const partitionKey = partitionKeyOf(event);
    const data = encodeSingleObject(event);
    return { partitionKey, data, bytes: data.length + Buffer.byteLength(partitionKey) };
  }

  async send(batch: readonly KinesisRecord[]): Promise<SendResult> {
    const output = await this.client.putRecords({
      ...this.target,
      Records: batch.map((record) => ({ Data: record.data, PartitionKey: record.partitionKey })),
    });
    if (!output.FailedRecordCount) return DELIVERED;
    const results = output.Records ?? [];
    const failures: RecordFailure[] = [];
    for (let index = 0; index < batch.length; index++) {
      const entry = results[index];
      if (entry === undefined) {
        // A response that does not account for a record: assume it failed and may be retried.
        failures.push({
          index,
          error: 'no result for this record in the PutRecords response',
          retriable: true,
        });
      } else if (entry.ErrorCode) {
        failures.push({
          index,
          error: `${entry.ErrorCode}: ${entry.ErrorMessage ?? ''}`,
          retriable: RETRIABLE_RECORD_ERRORS.has(entry.ErrorCode),
        });
      }
    }
    return { failures };
  }
}

export function kinesisTransport(options: KinesisTransportOptions): KinesisTransport {
  return new KinesisTransport(options);
}
