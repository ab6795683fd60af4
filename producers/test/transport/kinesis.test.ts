import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  type PutRecordsCommandInput,
} from '@aws-sdk/client-kinesis';
import { decodeSingleObject } from '@genai-pipeline/schemas';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEmitter } from '../../src/emitter/emitter.js';
import { type KinesisClientLike, KinesisTransport } from '../../src/transport/kinesis.js';
import { invocation } from '../support/fixtures.js';

type PutRecordsResult = Awaited<ReturnType<KinesisClientLike['putRecords']>>;

/** Implements the one call the transport makes; `answers` are used in turn, then all succeed. */
class FakeKinesis implements KinesisClientLike {
  readonly calls: PutRecordsCommandInput[] = [];
  readonly answers: ((input: PutRecordsCommandInput) => PutRecordsResult)[] = [];

  async putRecords(input: PutRecordsCommandInput): Promise<PutRecordsResult> {
    this.calls.push(input);
    const answer = this.answers.shift();
    if (answer) return answer(input);
    return {
      FailedRecordCount: 0,
      Records: (input.Records ?? []).map(() => ({ SequenceNumber: '1', ShardId: 's' })),
    };
  }
}

const idsOf = (input: PutRecordsCommandInput | undefined) =>
  (input?.Records ?? []).map(
    (r) => (decodeSingleObject(r.Data as Uint8Array).record as { event_id: string }).event_id,
  );

afterEach(() => {
  vi.useRealTimers();
});

describe('KinesisTransport', () => {
  it('puts at most 500 records per call with the service+model partition key', async () => {
    const client = new FakeKinesis();
    const emitter = createEmitter({
      transport: new KinesisTransport({ streamName: 'genai-events', client }),
      maxBatchEvents: 10_000,
      maxBufferedEvents: 2000,
    });
    const events = Array.from({ length: 1200 }, () => invocation());
    for (const e of events) emitter.emit(e);
    await emitter.close();
    expect(client.calls.map((c) => c.Records?.length)).toEqual([500, 500, 200]);
    expect(client.calls[0]?.StreamName).toBe('genai-events');
    expect(client.calls[0]?.Records?.[0]?.PartitionKey).toBe(
      'support-bot\u0000anthropic.claude-3-5-sonnet-20241022-v2:0',
    );
    expect(client.calls.flatMap(idsOf)).toEqual(events.map((e) => e.event_id));
  });

  it('retries only the records a partial failure marks retriable', async () => {
    vi.useFakeTimers();
    const client = new FakeKinesis();
    client.answers.push((input) => ({
      FailedRecordCount: 3,
      Records: (input.Records ?? []).map((_, i) =>
        i === 0
          ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard' }
          : i === 3
            ? { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal service failure' }
            : i === 4
              ? { ErrorCode: 'KMSAccessDeniedException', ErrorMessage: 'denied' }
              : { SequenceNumber: `${i}`, ShardId: 'shardId-000000000000' },
      ),
    }));
    const emitter = createEmitter({
      transport: new KinesisTransport({ streamArn: 'arn:aws:kinesis:us-east-1:1:stream/s', client }),
      retry: { maxDelayMs: 50 },
    });
    const events = Array.from({ length: 6 }, () => invocation());
    for (const e of events) emitter.emit(e);
    const flushed = emitter.flush();
    await vi.advanceTimersByTimeAsync(100);
    await flushed;
    expect(client.calls[0]?.StreamARN).toBe('arn:aws:kinesis:us-east-1:1:stream/s');
    expect(idsOf(client.calls[1])).toEqual([events[0]?.event_id, events[3]?.event_id]);
    expect(emitter.stats()).toMatchObject({
      sent: 5,
      retried: 2,
      dropped: expect.objectContaining({ rejected: 1 }),
    });
  });

  it('retries a throttled call and drops on a non-retriable error', async () => {
    vi.useFakeTimers();
    const client = new FakeKinesis();
    client.answers.push(
      () => {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });
      },
      () => {
        throw Object.assign(new Error('Stream not found'), {
          name: 'ResourceNotFoundException',
          $metadata: { httpStatusCode: 400 },
        });
      },
    );
    const emitter = createEmitter({
      transport: new KinesisTransport({ streamName: 's', client }),
      retry: { maxDelayMs: 50 },
    });
    emitter.emit(invocation());
    const flushed = emitter.flush();
    await vi.advanceTimersByTimeAsync(100);
    await flushed;
    expect(client.calls).toHaveLength(2);
    expect(emitter.stats()).toMatchObject({
      sent: 0,
      retried: 1,
      dropped: expect.objectContaining({ rejected: 1 }),
    });
  });

  it('drives the real SDK client (PutRecords on the wire) through a local endpoint', async () => {
    const bodies: {
      target: string | undefined;
      body: { StreamName: string; Records: { Data: string; PartitionKey: string }[] };
    }[] = [];
    const server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c) => {
        text += c;
      });
      req.on('end', () => {
        const body = JSON.parse(text) as (typeof bodies)[number]['body'];
        bodies.push({ target: req.headers['x-amz-target'] as string | undefined, body });
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(
          JSON.stringify({
            FailedRecordCount: 1,
            Records: body.Records.map((_, i) =>
              i === 0
                ? { ErrorCode: 'InternalFailure', ErrorMessage: 'x' }
                : { SequenceNumber: '1', ShardId: 'shardId-0' },
            ),
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = new KinesisClient({
        region: 'us-east-1',
        endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        requestHandler: new NodeHttpHandler(),
      });
      const transport = new KinesisTransport({ streamName: 'genai-events', client });
      const e = invocation();
      const result = await transport.send([
        transport.encode({ kind: 'invocation', event: { ...e } as never }),
      ]);
      expect(result.failures).toEqual([{ index: 0, error: 'InternalFailure: x', retriable: true }]);
      expect(bodies[0]?.target).toBe('Kinesis_20131202.PutRecords');
      const record = bodies[0]?.body.Records[0];
      expect(record?.PartitionKey).toBe(`${e.service}\u0000${e.model_id}`);
      expect(
        (decodeSingleObject(Buffer.from(record?.Data ?? '', 'base64')).record as { event_id: string })
          .event_id,
      ).toBe(e.event_id);
      client.destroy();
    } finally {
      server.close();
    }
  });
});

// kinesalite: a real Kinesis API server in-process, used when the package is installed.
const kinesalite = await import('kinesalite' as string).then(
  (m: { default: (options: object) => http.Server }) => m.default,
  () => undefined,
);
if (!kinesalite) console.info('kinesalite suite skipped: the kinesalite package is not installed');

describe.skipIf(!kinesalite)('KinesisTransport against kinesalite (2 shards)', () => {
  it('delivers every event, each service+model key on one shard', async () => {
    const server = (kinesalite as NonNullable<typeof kinesalite>)({ createStreamMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const client = new KinesisClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestHandler: new NodeHttpHandler(),
    });
    try {
      await client.send(new CreateStreamCommand({ StreamName: 'genai-events', ShardCount: 2 }));
      const emitter = createEmitter({
        transport: new KinesisTransport({ streamName: 'genai-events', client }),
      });
      const models = ['m-a', 'm-b', 'm-c', 'm-d', 'm-e'];
      const events = Array.from({ length: 200 }, (_, i) =>
        invocation({ model_id: models[i % models.length] }),
      );
      for (const e of events) emitter.emit(e);
      await emitter.flush();
      expect(emitter.stats().sent).toBe(200);

      const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: 'genai-events' }));
      expect(Shards).toHaveLength(2);
      const shardsOfKey = new Map<string, Set<string>>();
      const ids: string[] = [];
      for (const shard of Shards) {
        const { ShardIterator } = await client.send(
          new GetShardIteratorCommand({
            StreamName: 'genai-events',
            ShardId: shard.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        );
        const { Records = [] } = await client.send(new GetRecordsCommand({ ShardIterator, Limit: 1000 }));
        for (const r of Records) {
          const key = r.PartitionKey ?? '';
          shardsOfKey.set(key, (shardsOfKey.get(key) ?? new Set()).add(shard.ShardId ?? ''));
          ids.push((decodeSingleObject(r.Data as Uint8Array).record as { event_id: string }).event_id);
        }
      }
      expect(new Set(ids)).toEqual(new Set(events.map((e) => e.event_id)));
      for (const shards of shardsOfKey.values()) expect(shards.size).toBe(1);
    } finally {
      client.destroy();
      server.close();
    }
  });
});
