import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { envName, RUN_OPTION_NAMES, readConfigFile, resolveRunConfig } from '../../src/run/config.js';

const resolve = (
  commandLine: Record<string, unknown>,
  env: Record<string, string | undefined> = {},
  file?: Record<string, unknown>,
) => resolveRunConfig({ commandLine, env, ...(file ? { file, fileName: 'run.json' } : {}) });

async function configFile(text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'run-config-')), 'run.json');
  await writeFile(path, text);
  return path;
}

describe('envName', () => {
  test('GENAI_PIPELINE_ and the option in upper snake case', () => {
    expect(envName('maxOutOfOrdernessSeconds')).toBe('GENAI_PIPELINE_MAX_OUT_OF_ORDERNESS_SECONDS');
    expect(envName('lake')).toBe('GENAI_PIPELINE_LAKE');
    expect(envName('s3Uri')).toBe('GENAI_PIPELINE_S3_URI');
  });

  test('the contract options are all there', () => {
    expect(RUN_OPTION_NAMES).toEqual(
      expect.arrayContaining(['lake', 'port', 'pricing', 'maxOutOfOrdernessSeconds', 'sink', 'influxDb']),
    );
  });
});

describe('resolveRunConfig', () => {
  test('defaults: the embedded source on 127.0.0.1:7070, data/ dirs, lake sink, demo on', () => {
    expect(resolve({})).toMatchObject({
      source: 'embedded',
      lake: 'data/lake',
      stateDir: 'data/state',
      host: '127.0.0.1',
      port: 7070,
      maxOutOfOrdernessSeconds: 30,
      checkpointIntervalSeconds: 10,
      maxBodyBytes: 5 * 1024 * 1024,
      demo: true,
      sink: ['lake'],
      kafkaGroup: 'genai-pipeline',
    });
    expect(resolve({}).pricing).toBeUndefined();
  });

  test('command line over environment over config file over default', () => {
    const file = { lake: 'file-lake', port: 1001, stateDir: 'file-state', host: 'file-host' };
    const env = {
      GENAI_PIPELINE_LAKE: 'env-lake',
      GENAI_PIPELINE_PORT: '1002',
      GENAI_PIPELINE_STATE_DIR: 'env-state',
    };
    const config = resolve({ lake: 'cli-lake', port: undefined }, env, file);
    expect(config.lake).toBe('cli-lake');
    // An option the command line did not set (undefined) falls through to the environment.
    expect(config.port).toBe(1002);
    expect(config.stateDir).toBe('env-state');
    expect(config.host).toBe('file-host');
    expect(config.checkpointIntervalSeconds).toBe(10);
  });

  test('an empty environment variable counts as unset', () => {
    expect(resolve({}, { GENAI_PIPELINE_LAKE: '' }, { lake: 'file-lake' }).lake).toBe('file-lake');
  });

  test('environment variables outside GENAI_PIPELINE_<OPTION> are not read', () => {
    expect(resolve({}, { GENAI_PIPELINE: 'x', PATH: '/bin' }).lake).toBe('data/lake');
  });

  test('numbers and booleans from strings (command line, environment)', () => {
    const config = resolve(
      { maxOutOfOrdernessSeconds: '12.5', demo: 'false' },
      { GENAI_PIPELINE_PORT: ' 8080 ', GENAI_PIPELINE_CHECKPOINT_INTERVAL_SECONDS: '3' },
    );
    expect(config.maxOutOfOrdernessSeconds).toBe(12.5);
    expect(config.port).toBe(8080);
    expect(config.checkpointIntervalSeconds).toBe(3);
    expect(config.demo).toBe(false);
    expect(resolve({}, { GENAI_PIPELINE_DEMO: '0' }).demo).toBe(false);
    expect(resolve({}, { GENAI_PIPELINE_DEMO: '1' }, { demo: false }).demo).toBe(true);
    expect(resolve({ demo: true }, { GENAI_PIPELINE_DEMO: 'false' }).demo).toBe(true);
  });

  test('sink lists from comma strings and arrays', () => {
    expect(resolve({ sink: 'lake, cloudwatch,influxdb' }).sink).toEqual(['lake', 'cloudwatch', 'influxdb']);
    expect(resolve({}, {}, { sink: ['s3', 'timestream'] }).sink).toEqual(['s3', 'timestream']);
    expect(resolve({}, { GENAI_PIPELINE_SINK: 'cloudwatch' }).sink).toEqual(['cloudwatch']);
  });

  test('an unknown sink is rejected, naming where it came from', () => {
    expect(() => resolve({ sink: 'lake,nope' })).toThrow(/^invalid configuration: --sink: .*"cloudwatch"/);
    expect(() => resolve({}, { GENAI_PIPELINE_SINK: 'nope' })).toThrow(
      /^invalid configuration: GENAI_PIPELINE_SINK: /,
    );
    expect(() => resolve({}, {}, { sink: ['lake', 'nope'] })).toThrow(
      /^invalid configuration: sink in run\.json: /,
    );
  });

  test('a bad number names the flag, the environment variable or the file, and says why', () => {
    expect(() => resolve({ port: 'abc' })).toThrow(/^invalid configuration: --port: .*expected number/);
    expect(() => resolve({}, { GENAI_PIPELINE_PORT: 'abc' })).toThrow(
      /^invalid configuration: GENAI_PIPELINE_PORT: .*expected number/,
    );
    expect(() => resolve({}, {}, { port: true })).toThrow(
      /^invalid configuration: port in run\.json: .*expected number/,
    );
    expect(() => resolve({ port: '70000' })).toThrow(/^invalid configuration: --port: .*65535/);
    expect(() => resolve({}, { GENAI_PIPELINE_MAX_OUT_OF_ORDERNESS_SECONDS: '-1' })).toThrow(
      /^invalid configuration: GENAI_PIPELINE_MAX_OUT_OF_ORDERNESS_SECONDS: .*>=0/,
    );
    expect(() => resolve({ checkpointIntervalSeconds: '0' })).toThrow(
      /^invalid configuration: --checkpoint-interval-seconds: /,
    );
  });

  test('the layer that supplied the bad value is named, not another that set the option too', () => {
    // The environment's bad port wins over the file's good one, so the environment is to blame.
    expect(() => resolve({}, { GENAI_PIPELINE_PORT: 'x' }, { port: 80 })).toThrow(/GENAI_PIPELINE_PORT/);
    // The command line's good port hides the environment's bad one.
    expect(resolve({ port: '81' }, { GENAI_PIPELINE_PORT: 'x' }).port).toBe(81);
  });

  test('a bad boolean says which values are allowed', () => {
    expect(() => resolve({}, { GENAI_PIPELINE_DEMO: 'yes' })).toThrow(
      /^invalid configuration: GENAI_PIPELINE_DEMO: .*"true"/,
    );
  });

  test('a Kinesis lease table and the shard state every instance reaches go together', () => {
    const kinesis = { source: 'kinesis', kinesisStream: 'events' };
    expect(() => resolve({ ...kinesis, kinesisLeaseTable: 'leases' })).toThrow(
      /--source kinesis needs --kinesis-shard-state/,
    );
    expect(() => resolve({ ...kinesis, kinesisShardState: 's3://b/state' })).toThrow(
      /--source kinesis needs --kinesis-lease-table/,
    );
    const shared = resolve(kinesis, {
      GENAI_PIPELINE_KINESIS_LEASE_TABLE: 'leases',
      GENAI_PIPELINE_KINESIS_SHARD_STATE: 's3://b/state',
    });
    expect([shared.kinesisLeaseTable, shared.kinesisShardState]).toEqual(['leases', 's3://b/state']);
    expect(() => resolve({ ...kinesis, kinesisLeaseTable: 'ab', kinesisShardState: '/x' })).toThrow(
      /kinesisLeaseTable|kinesis-lease-table/,
    );
  });

  test('--source kinesis needs a stream; --source kafka needs brokers and a topic', () => {
    expect(() => resolve({ source: 'kinesis' })).toThrow(/--source kinesis needs --kinesis-stream/);
    expect(resolve({ source: 'kinesis', kinesisStream: 'events' }).kinesisStream).toBe('events');
    expect(() => resolve({ source: 'kafka', kafkaTopic: 't' })).toThrow(
      /--source kafka needs --kafka-brokers/,
    );
    expect(() => resolve({ source: 'kafka', kafkaBrokers: 'b:9092' })).toThrow(
      /--source kafka needs --kafka-topic/,
    );
    const kafka = resolve(
      { source: 'kafka' },
      { GENAI_PIPELINE_KAFKA_BROKERS: 'a:9092, b:9092' },
      { kafkaTopic: 't' },
    );
    expect(kafka.kafkaBrokers).toEqual(['a:9092', 'b:9092']);
    expect(kafka.kafkaTopic).toBe('t');
  });

  test('an unknown source is rejected', () => {
    expect(() => resolve({}, { GENAI_PIPELINE_SOURCE: 'pubsub' })).toThrow(
      /^invalid configuration: GENAI_PIPELINE_SOURCE: /,
    );
  });

  test('unknown keys in the config file are rejected naming the file and the keys', () => {
    expect(() => resolve({}, {}, { lake: 'x', bogus: 1, alsoBogus: 2 })).toThrow(
      'invalid configuration: run.json: unknown option(s) bogus, alsoBogus',
    );
  });
});

describe('readConfigFile', () => {
  test('camelCase and kebab-case keys both become options', async () => {
    const path = await configFile(
      JSON.stringify({ 'max-out-of-orderness-seconds': 5, stateDir: 'state', 'influx-url': 'http://i:8086' }),
    );
    const file = await readConfigFile(path);
    expect(file).toEqual({ maxOutOfOrdernessSeconds: 5, stateDir: 'state', influxUrl: 'http://i:8086' });
    const config = resolveRunConfig({ commandLine: {}, env: {}, file, fileName: path });
    expect(config.maxOutOfOrdernessSeconds).toBe(5);
    expect(config.stateDir).toBe('state');
  });

  test('an unknown key is rejected naming the file', async () => {
    const path = await configFile('{"lake": "x", "max-out-of-order": 5}');
    const file = await readConfigFile(path);
    expect(() => resolveRunConfig({ commandLine: {}, env: {}, file, fileName: path })).toThrow(
      `invalid configuration: ${path}: unknown option(s) maxOutOfOrder`,
    );
  });

  test('bad JSON names the file', async () => {
    const path = await configFile('{"lake": ');
    await expect(readConfigFile(path)).rejects.toThrow(`config file ${path} is not valid JSON: `);
  });

  test('JSON that is not an object names the file', async () => {
    for (const text of ['[1]', 'null', '"lake"']) {
      const path = await configFile(text);
      await expect(readConfigFile(path)).rejects.toThrow(
        `config file ${path} must hold a JSON object of options`,
      );
    }
  });

  test('an unreadable file names the file', async () => {
    const path = join(tmpdir(), 'no-such-dir-for-run-config', 'run.json');
    await expect(readConfigFile(path)).rejects.toThrow(`config file ${path} cannot be read: `);
  });
});

describe('unknown GENAI_PIPELINE_ settings', () => {
  test('are refused by name instead of being ignored', () => {
    expect(() =>
      resolveRunConfig({
        commandLine: {},
        env: { GENAI_PIPELINE_LAKES: '/tmp/x', GENAI_PIPELINE_LAKE: '/tmp/y' },
      }),
    ).toThrow(/GENAI_PIPELINE_LAKES: not an option of run/);
    expect(
      resolveRunConfig({ commandLine: {}, env: { GENAI_PIPELINE_CONFIG: 'ignored-here', OTHER_X: '1' } })
        .lake,
    ).toBe('data/lake');
  });
});
