/**
 * `genai-pipeline replay --sink s3,cloudwatch` end to end: the built CLI, the real AWS SDK clients
 * configured only through the standard environment (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_CLOUDWATCH,
 * AWS_REGION, credentials), s3rver as S3 and the CloudWatch protocol endpoint.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudWatchEndpoint } from '../support/aws/cloudwatch-endpoint.js';
import { lastJsonLine, replayArgs, runCli } from '../support/cli.js';
import { generateDataset, smallDatasetOptions, writeJsonLines } from '../support/dataset.js';
import { listFiles, openDuckDb, readTable } from '../support/lake.js';
import { listRelativeKeys, readObject, type S3LakeServer, startS3LakeServer } from '../support/s3/s3-lake.js';

const BUCKET = 'genai-lake';
const PREFIX = 'prod/lake';
const NAMESPACE = 'GenAI/E2E';

let work: string;
let s3: S3LakeServer;
let cloudwatch: CloudWatchEndpoint;
let env: Record<string, string>;
let input: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'replay-sinks-'));
  s3 = await startS3LakeServer(BUCKET);
  cloudwatch = await CloudWatchEndpoint.start();
  env = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_CLOUDWATCH: cloudwatch.url,
  };
  // Recent event times: CloudWatch takes nothing older than 14 days.
  const now = Date.now();
  const startMs = Math.floor(now / 60_000) * 60_000 - 30 * 60_000;
  input = join(work, 'events.jsonl');
  writeJsonLines(input, generateDataset({ ...smallDatasetOptions(now), startMs }).lines);
});

afterAll(async () => {
  await cloudwatch.close();
  await s3.close();
  rmSync(work, { recursive: true, force: true });
});

describe('replay --sink s3,cloudwatch', () => {
  it('writes the same lake files to S3 and publishes the rollups to CloudWatch', async () => {
    const lake = join(work, 'lake');
    const args = replayArgs([input], lake, [
      '--sink',
      'lake,s3,cloudwatch',
      '--s3-uri',
      `s3://${BUCKET}/${PREFIX}`,
      '--cloudwatch-namespace',
      NAMESPACE,
    ]);
    const result = await runCli(args, env);
    expect(result.stderr).not.toMatch(/genai-pipeline:/);
    expect(result.code).toBe(0);
    const summary = lastJsonLine(result.stdout) as Record<string, number>;
    expect(summary.events).toBeGreaterThan(1000);

    // S3 holds exactly the local lake's files, byte for byte.
    const localFiles = listFiles(lake);
    expect(await listRelativeKeys(s3.client, BUCKET, PREFIX)).toEqual(localFiles);
    for (const file of localFiles.slice(0, 5)) {
      expect(Buffer.from(await readObject(s3.client, BUCKET, `${PREFIX}/${file}`))).toEqual(
        readFileSync(join(lake, file)),
      );
    }

    // CloudWatch: per window, Requests of the [Service] datums add up to the lake's rollups.
    expect(cloudwatch.violations).toEqual([]);
    const conn = await openDuckDb();
    const rollups = await readTable(conn, lake, 'rollups_1m');
    const expected = new Map<string, number>();
    for (const row of rollups) {
      const key = `${row.window_start}|${row.service}`;
      expected.set(key, (expected.get(key) ?? 0) + Number(row.requests));
    }
    const published = new Map<string, number>();
    for (const datum of cloudwatch.datums) {
      if (datum.namespace !== NAMESPACE || datum.metricName !== 'Requests') continue;
      if (Object.keys(datum.dimensions).join() !== 'Service') continue;
      const key = `${datum.timestamp}|${datum.dimensions.Service}`;
      published.set(key, (published.get(key) ?? 0) + (datum.value ?? 0));
    }
    expect(published).toEqual(expected);
    expect(result.stderr).toMatch(/sink cloudwatch: .*"datumsSent":\d+/);

    // The pipeline's own health, from the same run.
    const health = (name: string, dimension?: string) =>
      cloudwatch.datums
        .filter((d) => d.namespace === NAMESPACE && d.metricName === name)
        .filter((d) => (dimension ? Object.entries(d.dimensions).flat().join('=') === dimension : true))
        .reduce((sum, d) => sum + (d.value ?? 0), 0);
    expect(health('EventsIn')).toBe(summary.events);
    expect(health('DeadLetters', 'Reason=invalid')).toBe(summary.invalid);
    expect(health('DeadLetters', 'Reason=late')).toBe(summary.late);
    expect(health('WindowsClosed')).toBeGreaterThan(0);
  });

  it('fails fast with a one-line reason when the S3 bucket does not exist, before writing anything', async () => {
    const lake = join(work, 'lake-missing-bucket');
    const result = await runCli(
      replayArgs([input], lake, ['--sink', 's3', '--s3-uri', 's3://no-such-bucket/x']),
      env,
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/no-such-bucket.*NoSuchBucket/);
    expect(listFiles(lake)).toEqual([]);
  });

  it('says which option a chosen sink needs', async () => {
    const result = await runCli(replayArgs([input], join(work, 'lake-x'), ['--sink', 's3']), env);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toBe('genai-pipeline: --sink s3 needs --s3-uri');
  });

  it('rejects an unknown sink name', async () => {
    writeFileSync(join(work, 'tiny.jsonl'), '\n');
    const result = await runCli(
      replayArgs([join(work, 'tiny.jsonl')], join(work, 'lake-y'), ['--sink', 'kafka']),
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/unknown sink "kafka"/);
  });
});
