import { LAKE_TABLES, type LakeRow } from '@genai-pipeline/schemas';
import { describe, expect, it } from 'vitest';
import { InfluxWriteError, type InfluxWriter } from '../../src/influxdb/client.js';
import { InfluxSink } from '../../src/influxdb/sink.js';
import type { SinkLogger } from '../../src/timestream/dead-letters.js';
import type { WindowResults } from '../../src/window-results.js';
import { sampleRow } from '../support/rows.js';

const START = Date.UTC(2025, 5, 2, 12);
const quiet: SinkLogger = { warn: () => {} };
const fast = { initialDelayMs: 1, maxDelayMs: 2, maxAttempts: 3 };

/** Keeps the bodies; answers each request with the next scripted error, then success. */
class ScriptedWriter implements InfluxWriter {
  readonly bodies: string[] = [];
  constructor(private readonly errors: InfluxWriteError[] = []) {}
  async write(body: string) {
    this.bodies.push(body);
    const error = this.errors.shift();
    if (error) throw error;
  }
}

function window(rows: number, overrides: LakeRow = {}): WindowResults {
  return {
    windowStart: START,
    rollups: Array.from({ length: rows }, (_, i) =>
      sampleRow(LAKE_TABLES.rollups_1m, i + 1, { window_start: START, model_id: `m${i}`, ...overrides }),
    ),
    rollupDistributions: [],
    scoreRollups: [],
    anomalies: [],
  };
}

const config = { url: 'http://influx.test:8086', db: 'genai', resilience: fast };

describe('InfluxSink', () => {
  it('sends full batches on write and the rest on flush, one line per row, newline-terminated', async () => {
    const writer = new ScriptedWriter();
    const sink = new InfluxSink({ ...config, maxLinesPerRequest: 2 }, { writer, logger: quiet });
    await sink.write([window(3)]);
    expect(writer.bodies.map((b) => b.split('\n').length - 1)).toEqual([2]);
    await sink.flush();
    expect(writer.bodies.map((b) => b.split('\n').length - 1)).toEqual([2, 1]);
    expect(writer.bodies.every((b) => b.endsWith('\n'))).toBe(true);
    expect(
      writer.bodies[0]?.startsWith(
        'rollups_1m,model_id=m0,provider=provider-1,service=service-1,tenant_id=tenant_id-1 ',
      ),
    ).toBe(true);
    expect(sink.health()).toMatchObject({ linesSent: 3, pendingLines: 0, sent: 2, lastBatchLines: 1 });
  });

  it('cuts requests by bytes too', async () => {
    const writer = new ScriptedWriter();
    const sink = new InfluxSink({ ...config, maxBytesPerRequest: 1_024 }, { writer, logger: quiet });
    await sink.write([window(6)]);
    await sink.flush();
    expect(writer.bodies.length).toBeGreaterThan(1);
    expect(writer.bodies.every((b) => Buffer.byteLength(b) <= 1_024)).toBe(true);
    expect(writer.bodies.join('').split('\n').length - 1).toBe(6);
  });

  it("waits out the server's Retry-After (capped) before the next attempt", async () => {
    let now = 1_000;
    const waits: number[] = [];
    const writer = new ScriptedWriter([
      new InfluxWriteError('throttled', true, 429, 3_000),
      new InfluxWriteError('throttled', true, 429, 600_000),
    ]);
    const sink = new InfluxSink(
      { ...config, maxRetryAfterMs: 10_000 },
      {
        writer,
        logger: quiet,
        clock: () => now,
        sleep: async (ms) => {
          waits.push(ms);
          now += ms;
        },
      },
    );
    await sink.write([window(1)]);
    await sink.flush();
    expect(waits).toEqual([3_000, 10_000]);
    expect(writer.bodies).toHaveLength(3);
    expect(sink.health()).toMatchObject({ retried: 2, linesSent: 1 });
  });

  it('keeps lines queued when retries run out, and dead-letters a batch refused for good', async () => {
    const down = () => new InfluxWriteError('HTTP 503', true, 503);
    const writer = new ScriptedWriter([
      down(),
      down(),
      down(),
      new InfluxWriteError('HTTP 400: field type conflict', false, 400),
    ]);
    const sink = new InfluxSink(config, { writer, logger: quiet });
    await sink.write([window(2)]);
    await expect(sink.flush()).rejects.toMatchObject({ status: 503 });
    expect(sink.health()).toMatchObject({ pendingLines: 2, failed: 1, deadLettered: 0 });
    await sink.flush();
    expect(sink.health()).toMatchObject({ pendingLines: 0, failed: 2, deadLettered: 2, linesSent: 0 });
    expect(sink.deadLetters().map((d) => d.reason)).toEqual([
      'HTTP 400: field type conflict (not retriable)',
      'HTTP 400: field type conflict (not retriable)',
    ]);
    expect(sink.deadLetters()[0]?.payload).toMatch(/^rollups_1m,/);
  });

  it('dead-letters rows line protocol cannot carry and sends the rest', async () => {
    const writer = new ScriptedWriter();
    const sink = new InfluxSink(config, { writer, logger: quiet });
    await sink.write([window(1, { tenant_id: 'line\nbreak' }), window(1, { requests: -0.5 }), window(1)]);
    await sink.flush();
    expect(sink.deadLetters().map((d) => d.reason)).toEqual([
      expect.stringContaining('requests must be an integer'),
      expect.stringContaining('contains a line break'),
    ]);
    expect(writer.bodies.join('').split('\n').length - 1).toBe(1);
  });
});
