/**
 * The promises of `genai-pipeline run` (CONTRACT.md §5, §6) that the large acceptance tests do not pin
 * down one by one, each through the built CLI: the replay options taking effect in `run`, set on the
 * command line, in the config file or as GENAI_PIPELINE_<OPTION> (the command line winning), an Avro
 * container body, the invalid records of a 400, the default body limit, and SIGINT.
 */
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { type InvocationEvent, type ScoreEvent, writeAvroContainer } from '@genai-pipeline/schemas';
import { describe, expect, it } from 'vitest';
import { writePricingFile } from '../support/dataset.js';
import { WINDOW_MS, windowStartOf } from '../support/expected.js';
import { readTable } from '../support/lake.js';
import { metricByPartition, stopCleanly, useE2eWorkspace } from '../support/run-lake.js';
import { type RunningPipeline, startRunProcess } from '../support/run-process.js';

const TIMEOUT_MS = 60_000;
const SECOND = 1_000;

const workspace = useE2eWorkspace('genai-run-contract-');

// A model no catalog knows, so only a price override file can price it.
const MODEL = 'contract-test-model';
const PROVIDER = 'contract-test-provider';
/** 1,000 input and 100 output tokens at these prices (USD per million tokens). */
const OVERRIDE = { models: { [MODEL]: { input: 2, output: 10 } } };
const OVERRIDE_COST = (1_000 * 2 + 100 * 10) / 1e6;
const OTHER_OVERRIDE = { models: { [MODEL]: { input: 3, output: 20 } } };
const OTHER_OVERRIDE_COST = (1_000 * 3 + 100 * 20) / 1e6;

// A window well in the past (so nothing is "in the future") and its start, aligned to the minute.
const T = windowStartOf(Date.now() - 20 * 60 * SECOND);

const invocation = (id: string, eventTime: number): InvocationEvent =>
  ({
    event_id: id,
    event_time: eventTime,
    service: 'contract-bot',
    provider: PROVIDER,
    model_id: MODEL,
    operation: 'chat',
    input_tokens: 1_000,
    output_tokens: 100,
    latency_ms: 250,
    status: 'OK',
  }) as InvocationEvent;

/**
 * `a` and `b` take the watermark to T+100s minus the bound; `c` belongs to the window [T, T+60s).
 * With the default bound (30 s) that window closed on `b` and `c` is late; with 60 s it is still open.
 */
const LATENESS_PROBE = [
  invocation('a', T + 10 * SECOND),
  invocation('b', T + 100 * SECOND),
  invocation('c', T + 20 * SECOND),
];

const ndjson = (lines: readonly unknown[]) =>
  lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n');

const post = (pipeline: RunningPipeline, body: string | Uint8Array, contentType = 'application/x-ndjson') =>
  fetch(`${pipeline.url}/v1/events`, { method: 'POST', headers: { 'content-type': contentType }, body });

/**
 * The status of a POST sent with node:http, as the producer SDK sends: it reads the early answer to
 * an oversized body, where fetch often reports the connection reset that follows it instead.
 */
const statusOfPost = (pipeline: RunningPipeline, body: string) =>
  new Promise<number | undefined>((resolve, reject) => {
    const req = request(`${pipeline.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'content-length': String(Buffer.byteLength(body)) },
    });
    req.on('error', reject);
    req.on('response', (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode));
    });
    req.end(body);
  });

interface Scenario {
  args?: string[];
  env?: Record<string, string>;
  /** The lake directory the scenario's options point `run` to. */
  lake: string;
}

/** What a run of the lateness probe left in the lake: each event's cost, and the late ones. */
async function runLatenessProbe({ args = [], env = {}, lake }: Scenario, dir: string) {
  const pipeline = await startRunProcess(['--no-demo', '--state-dir', join(dir, 'state'), ...args], env);
  const response = await post(pipeline, ndjson(LATENESS_PROBE));
  expect(response.status, await response.text()).toBe(202);
  await stopCleanly(pipeline);
  const invocations = await readTable(workspace.conn, lake, 'invocations');
  const deadLetters = await readTable(workspace.conn, lake, 'dead_letters');
  return {
    costs: Object.fromEntries(invocations.map((row) => [row.event_id, row.cost_usd])),
    late: deadLetters
      .filter((row) => row.reason === 'late')
      .map((row) => JSON.parse(String(row.payload)).event_id),
  };
}

const costsOf = (cost: number) => ({ a: cost, b: cost, c: cost });

/** A scenario's directory, the lake in it, and the price override file written in it. */
function scenarioWithOverride(name: string) {
  const dir = join(workspace.dir, name);
  const pricing = join(dir, 'pricing.json');
  writePricingFile(pricing, OVERRIDE);
  return { dir, lake: join(dir, 'lake'), pricing };
}

describe('run takes the options of replay', () => {
  it(
    'without options: the default lateness bound (30 s) and no override price',
    async () => {
      const dir = join(workspace.dir, 'defaults');
      const lake = join(dir, 'lake');
      const { costs, late } = await runLatenessProbe({ args: ['--lake', lake], lake }, dir);
      // What the other scenarios change: unpriced, and c late.
      expect(costs).toEqual(costsOf(0));
      expect(late).toEqual(['c']);
    },
    TIMEOUT_MS,
  );

  it(
    'on the command line: --pricing prices from the file, --max-out-of-orderness-seconds moves the watermark',
    async () => {
      const { dir, lake, pricing } = scenarioWithOverride('command-line');
      const args = ['--lake', lake, '--pricing', pricing, '--max-out-of-orderness-seconds', '60'];
      const { costs, late } = await runLatenessProbe({ args, lake }, dir);
      expect(costs).toEqual(costsOf(OVERRIDE_COST));
      expect(late).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it(
    'in the --config file (camelCase keys)',
    async () => {
      const { dir, lake, pricing } = scenarioWithOverride('config-file');
      const config = join(dir, 'run.json');
      writeFileSync(config, JSON.stringify({ lake, pricing, maxOutOfOrdernessSeconds: 60 }));
      const { costs, late } = await runLatenessProbe({ args: ['--config', config], lake }, dir);
      expect(costs).toEqual(costsOf(OVERRIDE_COST));
      expect(late).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it(
    'as GENAI_PIPELINE_<OPTION> environment variables, the config file included',
    async () => {
      const { dir, lake, pricing } = scenarioWithOverride('environment');
      const config = join(dir, 'run.json');
      writeFileSync(config, JSON.stringify({ maxOutOfOrdernessSeconds: 60 }));
      const env = {
        GENAI_PIPELINE_LAKE: lake,
        GENAI_PIPELINE_PRICING: pricing,
        GENAI_PIPELINE_CONFIG: config,
      };
      const { costs, late } = await runLatenessProbe({ env, lake }, dir);
      expect(costs).toEqual(costsOf(OVERRIDE_COST));
      expect(late).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it(
    'the command line wins over the environment and the config file',
    async () => {
      const { dir, lake, pricing } = scenarioWithOverride('precedence');
      const otherPricing = join(dir, 'other-pricing.json');
      writePricingFile(otherPricing, OTHER_OVERRIDE);
      const config = join(dir, 'run.json');
      writeFileSync(
        config,
        JSON.stringify({ lake: join(dir, 'file-lake'), pricing, maxOutOfOrdernessSeconds: 60 }),
      );
      const env = {
        GENAI_PIPELINE_LAKE: join(dir, 'env-lake'),
        GENAI_PIPELINE_PRICING: pricing,
        GENAI_PIPELINE_MAX_OUT_OF_ORDERNESS_SECONDS: '60',
      };
      const args = [
        '--config',
        config,
        '--lake',
        lake,
        '--pricing',
        otherPricing,
        '--max-out-of-orderness-seconds',
        '30',
      ];
      const { costs, late } = await runLatenessProbe({ args, env, lake }, dir);
      expect(costs).toEqual(costsOf(OTHER_OVERRIDE_COST));
      expect(late).toEqual(['c']);
    },
    TIMEOUT_MS,
  );
});

describe('run with the demo workload', () => {
  it(
    'runs the demo by default: its events come in through the collector',
    async () => {
      const dir = join(workspace.dir, 'demo');
      const pipeline = await startRunProcess(workspace.runDirArgs(dir));
      let eventsIn = 0;
      // Until the demo's first batch is processed (the test's timeout bounds the wait).
      while (eventsIn === 0) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const byPartition = await metricByPartition(pipeline.url, 'genai_pipeline_events_in_total');
        eventsIn = [...byPartition.values()].reduce((a, b) => a + b, 0);
      }
      await stopCleanly(pipeline);
      expect((await readTable(workspace.conn, join(dir, 'lake'), 'invocations')).length).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );
});

describe('the collector of run', () => {
  it(
    'takes an Avro container body into the lake, keeps the valid records of a 400 and dead-letters the invalid ones; SIGINT exits 0',
    async () => {
      const dir = join(workspace.dir, 'collector');
      const lake = join(dir, 'lake');
      const pipeline = await startRunProcess(['--no-demo', ...workspace.runDirArgs(dir)]);

      const score = {
        event_id: 'avro-score',
        event_time: T + 5 * SECOND,
        invocation_id: 'avro-1',
        service: 'contract-bot',
        model_id: MODEL,
        name: 'thumbs',
        value: 1,
      } as ScoreEvent;
      const invocations = writeAvroContainer(
        [invocation('avro-1', T), invocation('avro-2', T + SECOND)],
        'invocation',
      );
      expect((await post(pipeline, invocations, 'application/avro')).status).toBe(202);
      expect((await post(pipeline, writeAvroContainer([score], 'score'), 'application/avro')).status).toBe(
        202,
      );

      const negative = JSON.stringify({ ...invocation('bad-tokens', T + 2 * SECOND), input_tokens: -1 });
      const mixed = await post(
        pipeline,
        ndjson([invocation('json-1', T + 3 * SECOND), negative, 'not json']),
      );
      expect(mixed.status).toBe(400);
      const body = (await mixed.json()) as { errors?: { index: number; error: string }[] };
      expect(body.errors?.map((e) => e.index)).toEqual([1, 2]);
      expect(body.errors?.[0]?.error).toMatch(/input_tokens/);

      pipeline.child.kill('SIGINT');
      const { code, signal } = await pipeline.exited;
      expect(code, `exit ${code} ${signal ?? ''}\nstderr: ${pipeline.stderr().slice(-3000)}`).toBe(0);

      const ids = (await readTable(workspace.conn, lake, 'invocations')).map((row) => row.event_id).sort();
      expect(ids).toEqual(['avro-1', 'avro-2', 'json-1']);
      const scores = await readTable(workspace.conn, lake, 'scores');
      expect(scores.map((row) => [row.event_id, row.name, row.value])).toEqual([['avro-score', 'thumbs', 1]]);
      const deadLetters = await readTable(workspace.conn, lake, 'dead_letters');
      // Dead-lettered as they came, in any order.
      const rejected = deadLetters.map((row) => ({ reason: row.reason, payload: row.payload }));
      expect(rejected).toHaveLength(2);
      expect(rejected).toEqual(
        expect.arrayContaining([
          { reason: 'invalid', payload: 'not json' },
          { reason: 'invalid', payload: negative },
        ]),
      );
      expect(deadLetters.every((row) => typeof row.error === 'string' && row.error !== '')).toBe(true);

      // SIGINT checkpointed: after a restart, a producer resending the Avro batch adds nothing.
      const restarted = await startRunProcess(['--no-demo', ...workspace.runDirArgs(dir)]);
      expect((await post(restarted, invocations, 'application/avro')).status).toBe(202);
      await stopCleanly(restarted);
      const again = (await readTable(workspace.conn, lake, 'invocations')).map((row) => row.event_id).sort();
      expect(again).toEqual(['avro-1', 'avro-2', 'json-1']);
    },
    TIMEOUT_MS,
  );

  it(
    'limits a body to 5 MB by default: 413 above 5 MiB, taken at 5,000,000 bytes',
    async () => {
      const dir = join(workspace.dir, 'body-limit');
      const lake = join(dir, 'lake');
      const pipeline = await startRunProcess(['--no-demo', ...workspace.runDirArgs(dir)]);
      // One event padded with blank lines (skipped, not counted) to the size.
      const padded = (bytes: number) => {
        const line = JSON.stringify(invocation('padded', T + WINDOW_MS));
        return line + '\n'.repeat(bytes - Buffer.byteLength(line));
      };
      expect(await statusOfPost(pipeline, padded(5 * 1024 * 1024 + 1))).toBe(413);
      const under = await post(pipeline, padded(5_000_000));
      expect(under.status, await under.text()).toBe(202);
      await stopCleanly(pipeline);
      const ids = (await readTable(workspace.conn, lake, 'invocations')).map((row) => row.event_id);
      expect(ids).toEqual(['padded']);
    },
    TIMEOUT_MS,
  );
});
