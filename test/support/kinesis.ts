/** A Kinesis stream on kinesalite (a Kinesis API server, in-process) and a writer that keeps per-shard order. */
import type http from 'node:http';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { type LocalAwsServer, startLocalAwsServer } from './local-aws.js';

// kinesalite ships no types: a factory of a plain Node HTTP server.
const { default: kinesalite } = (await import('kinesalite' as string)) as {
  default: (options: object) => http.Server;
};

export type KinesaliteServer = LocalAwsServer<KinesisClient>;

export function startKinesalite(): Promise<KinesaliteServer> {
  // shardLimit counts the open shards of all streams on the server.
  const server = kinesalite({ createStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
  return startLocalAwsServer(server, (config) => new KinesisClient(config));
}

/** Creates a stream and waits until it is ACTIVE. */
export async function createStream(
  client: KinesisClient,
  streamName: string,
  shardCount: number,
): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shardCount }));
  await waitUntilActive(client, streamName);
}

/** Waits until a stream is ACTIVE (after its creation, or a reshard). */
export async function waitUntilActive(client: KinesisClient, streamName: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { StreamDescriptionSummary } = await client.send(
      new DescribeStreamSummaryCommand({ StreamName: streamName }),
    );
    if (StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`stream ${streamName} did not become ACTIVE`);
}

export interface KinesisPut {
  data: Uint8Array;
  partitionKey: string;
}

/** Where Kinesis stored a record. */
export interface Placement {
  shardId: string;
  sequenceNumber: string;
}

/** PutRecords takes at most 500 records a call (Kinesis API reference). */
const MAX_RECORDS_PER_PUT = 500;

/**
 * Puts `records` in order, one PutRecords call at a time, so every shard holds its records in the
 * order given. A failed record would break that order if sent again later, so it fails the put.
 */
export async function putRecordsInOrder(
  client: KinesisClient,
  streamName: string,
  records: readonly KinesisPut[],
): Promise<Placement[]> {
  const placements: Placement[] = [];
  for (let from = 0; from < records.length; from += MAX_RECORDS_PER_PUT) {
    const batch = records.slice(from, from + MAX_RECORDS_PER_PUT);
    const output = await client.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: batch.map((record) => ({ Data: record.data, PartitionKey: record.partitionKey })),
      }),
    );
    const results = output.Records ?? [];
    const failed = results.findIndex((result) => result.ErrorCode !== undefined);
    if ((output.FailedRecordCount ?? 0) > 0 || failed >= 0 || results.length !== batch.length) {
      const first = results[failed];
      throw new Error(
        `PutRecords of records ${from}..${from + batch.length - 1} to ${streamName}: ${output.FailedRecordCount} failed` +
          ` (first: record ${from + failed}, ${first?.ErrorCode}: ${first?.ErrorMessage}); ${results.length} results for ${batch.length} records`,
      );
    }
    for (const result of results) {
      placements.push({ shardId: result.ShardId as string, sequenceNumber: result.SequenceNumber as string });
    }
  }
  return placements;
}

/** Kinesis sequence numbers are decimal strings beyond 2^53: compare them as big integers. */
export function compareSequenceNumbers(a: string, b: string): number {
  const difference = BigInt(a) - BigInt(b);
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}
