import type { RejectedRecord, WriteRecordsRequest } from '@aws-sdk/client-timestream-write';
import { LAKE_TABLES, type LakeRow } from '@genai-pipeline/schemas';
import { describe, expect, it } from 'vitest';
import type { TimestreamWriter } from '../../src/timestream/client.js';
import type { SinkLogger } from '../../src/timestream/dead-letters.js';
import { TimestreamSink } from '../../src/timestream/sink.js';
import type { WindowResults } from '../../src/window-results.js';
import { sampleRow } from '../support/rows.js';

const NOW = Date.UTC(2025, 5, 2, 12);
const HOUR_MS = 3_600_000;

/** Accepts everything and keeps the requests: the sink's side of the contract, without a network. */
class RecordingWriter implements TimestreamWriter {
  readonly requests: WriteRecordsRequest[] = [];
  closed = false;
  constructor(private readonly reject: (request: WriteRecordsRequest) => RejectedRecord[] = () => []) {}
  async writeRecords(request: WriteRecordsRequest) {
    this.requests.push(structuredClone(request));
    return { rejected: this.reject(request) };
  }
  close() {
    this.closed = true;
  }
}

function window(start: number, rollups = 3, overrides: LakeRow = {}): WindowResults {
  return {
    windowStart: start,
    rollups: Array.from({ length: rollups }, (_, i) =>
      sampleRow(LAKE_TABLES.rollups_1m, i + 1, { window_start: start, model_id: `m${i}`, ...overrides }),
    ),
    rollupDistributions: [],
    scoreRollups: [],
    anomalies: [],
  };
}

const warnings: string[] = [];
const logger: SinkLogger = { warn: (_details, message) => warnings.push(message) };

function sinkWith(writer: TimestreamWriter, config: Record<string, unknown> = {}, clock = () => NOW) {
  return new TimestreamSink(
    { database: 'genai', table: 'metrics', resilience: { initialDelayMs: 1, maxDelayMs: 2 }, ...config },
    { writer, clock, logger },
  );
}

describe('TimestreamSink', () => {
  it('sends full batches on write and the rest on flush, one request at a time in order', async () => {
    const writer = new RecordingWriter();
    const sink = sinkWith(writer, { maxRecordsPerRequest: 4 });
    const writing = sink.write([window(NOW - 60_000, 5), window(NOW, 5)]);
    const flushing = sink.flush();
    await Promise.all([writing, flushing]);
    expect(writer.requests.map((r) => r.Records?.length)).toEqual([4, 4, 2]);
    expect(writer.requests.flatMap((r) => r.Records?.map((x) => Number(x.Time)) ?? [])).toEqual([
      ...Array(5).fill(NOW - 60_000),
      ...Array(5).fill(NOW),
    ]);
    await sink.close();
    expect(writer.closed).toBe(true);
    expect(sink.health()).toMatchObject({ recordsSent: 10, pendingRecords: 0, sent: 3, lastBatchRecords: 2 });
  });

  it('gives every record of one write the same version, later writes a higher one', async () => {
    let now = NOW;
    const writer = new RecordingWriter();
    const sink = sinkWith(writer, {}, () => now);
    await sink.write([window(NOW - 60_000)]);
    await sink.write([window(NOW - 60_000)]); // same clock reading: still a higher version
    now += 5_000;
    await sink.write([window(NOW - 60_000)]);
    await sink.flush();
    const versions = writer.requests.flatMap((r) => r.Records?.map((x) => x.Version) ?? []);
    expect(versions).toEqual([
      ...Array(3).fill(NOW),
      ...Array(3).fill(NOW + 1),
      ...Array(3).fill(NOW + 5_000),
    ]);
  });

  it('skips windows past the memory store retention, unless magnetic store writes are on', async () => {
    const old = window(NOW - 25 * HOUR_MS);
    const writer = new RecordingWriter();
    const sink = sinkWith(writer);
    await sink.write([old, window(NOW - 60_000)]);
    await sink.flush();
    expect(sink.health()).toMatchObject({ outOfHorizon: 3, recordsSent: 3 });

    const magnetic = sinkWith(new RecordingWriter(), { magneticStoreWrites: true });
    await magnetic.write([old]);
    await magnetic.flush();
    expect(magnetic.health()).toMatchObject({ outOfHorizon: 0, recordsSent: 3 });
  });

  it('dead-letters rows that cannot become records and records over 2 KB, sending the rest', async () => {
    warnings.length = 0;
    const writer = new RecordingWriter();
    const sink = sinkWith(writer);
    const bad = window(NOW - 60_000, 1, { requests: 2.5 });
    const huge = window(NOW - 60_000, 1, { model_id: 'x'.repeat(1_800) });
    await sink.write([bad, huge, window(NOW - 60_000, 2)]);
    await sink.flush();
    expect(sink.health()).toMatchObject({ deadLettered: 2, recordsSent: 2 });
    expect(sink.deadLetters().map((d) => d.reason)).toEqual([
      expect.stringContaining('requests must be an integer'),
      expect.stringContaining('record size limit'),
    ]);
    expect(warnings).toHaveLength(2);
  });

  it('re-sends only the rejected records that may succeed, dead-letters the others', async () => {
    let call = 0;
    const writer = new RecordingWriter(() =>
      call++ === 0
        ? [
            { RecordIndex: 0, Reason: 'conflict', ExistingVersion: NOW + 10 },
            { RecordIndex: 1, Reason: 'Measure value too long' },
            { RecordIndex: 2, Reason: 'Internal error, please retry' },
          ]
        : [],
    );
    const sink = sinkWith(writer);
    await sink.write([window(NOW - 60_000, 4)]);
    await sink.flush();
    const [first, second] = writer.requests;
    expect(second?.Records).toEqual([{ ...first?.Records?.[0], Version: NOW + 11 }, first?.Records?.[2]]);
    expect(sink.health()).toMatchObject({ recordsSent: 3, deadLettered: 1, retried: 1, pendingRecords: 0 });
    expect(sink.deadLetters()[0]?.reason).toBe('Measure value too long');
  });

  it('refuses an invalid config with the option named', () => {
    expect(
      () => new TimestreamSink({ database: 'genai', table: 'x' }, { writer: new RecordingWriter() }),
    ).toThrow(/invalid timestream sink config: table:/);
  });
});
