import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { z } from 'zod';
import { SINK_NAMES } from '../output/sink-setup.js';

const MiB = 1024 * 1024;

/** A list as a JSON array or a comma-separated string (command line, environment). */
const commaList = <T extends z.ZodType<string, string>>(item: T) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((value) => (typeof value === 'string' ? value.split(',') : value).map((entry) => entry.trim()))
    .pipe(z.array(item).min(1));

const sinkList = commaList(z.enum(SINK_NAMES));
const stringList = commaList(z.string().min(1));

/** Numbers may come as strings (command line, environment). */
const number = (schema: z.ZodNumber) =>
  z.union([schema, z.string().trim().min(1).transform(Number).pipe(schema)]);

const boolean = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1'),
]);

/**
 * Every option of `genai-pipeline run` (CONTRACT.md §5): on the command line (`--max-out-of-orderness-seconds`),
 * as GENAI_PIPELINE_<OPTION> (`GENAI_PIPELINE_MAX_OUT_OF_ORDERNESS_SECONDS`), or in the `--config` JSON
 * file under the option's name in camelCase or kebab-case (`maxOutOfOrdernessSeconds`).
 */
export const RUN_CONFIG_SCHEMA = z
  .object({
    source: z.enum(['embedded', 'kinesis', 'kafka']).default('embedded'),
    lake: z.string().min(1).default('data/lake'),
    /** Checkpoints, and the embedded durable log. */
    stateDir: z.string().min(1).default('data/state'),
    host: z.string().min(1).default('127.0.0.1'),
    /** The collector with the embedded source; /healthz and /metrics with every source. */
    port: number(z.number().int().min(0).max(65_535)).default(7070),
    pricing: z.string().min(1).optional(),
    maxOutOfOrdernessSeconds: number(z.number().min(0)).default(30),
    checkpointIntervalSeconds: number(z.number().positive()).default(10),
    maxBodyBytes: number(z.number().int().positive()).default(5 * MiB),
    /** The demo workload against the embedded collector. */
    demo: boolean.default(true),
    sink: sinkList.default(['lake']),
    s3Uri: z.string().min(1).optional(),
    cloudwatchNamespace: z.string().min(1).optional(),
    timestreamDatabase: z.string().min(1).optional(),
    timestreamTable: z.string().min(1).optional(),
    influxUrl: z.string().min(1).optional(),
    influxToken: z.string().min(1).optional(),
    influxBucket: z.string().min(1).optional(),
    influxOrg: z.string().min(1).optional(),
    influxDb: z.string().min(1).optional(),
    kinesisStream: z.string().min(1).optional(),
    /**
     * Kinesis shard leases in this DynamoDB table (created if missing), so that several instances share
     * the stream's shards. Without it one instance reads every shard.
     */
    kinesisLeaseTable: z.string().min(3).max(255).optional(),
    /** With a lease table (required then): where shard state goes, s3://bucket/prefix or a directory every instance reaches. */
    kinesisShardState: z.string().min(1).optional(),
    kafkaBrokers: stringList.optional(),
    kafkaTopic: z.string().min(1).optional(),
    kafkaGroup: z.string().min(1).default('genai-pipeline'),
    /** How long the consumer group waits for a silent member before rebalancing its partitions. */
    kafkaSessionTimeoutSeconds: number(z.number().min(6)).default(30),
    /**
     * Names this process among the instances sharing a checkpoint store (Kafka partitions move between
     * them). Unique per process by default: two processes with one id would both own a partition. A
     * restart after a crash takes back its partitions once the old owner's ownership timed out.
     */
    instanceId: z.string().min(1).default(`${hostname()}-${process.pid}`),
    /** A partition whose owner has been silent this long may be claimed by another instance. */
    ownershipTimeoutSeconds: number(z.number().positive()).default(30),
  })
  .strict()
  .superRefine((config, context) => {
    const need = (present: unknown, option: string) => {
      if (present === undefined) {
        context.addIssue({
          code: 'custom',
          message: `--source ${config.source} needs --${option}`,
          path: [option],
        });
      }
    };
    if (config.source === 'kinesis') need(config.kinesisStream, 'kinesis-stream');
    // Every instance must reach the shard state: a per-host default would fail at the first takeover.
    if (config.kinesisShardState !== undefined) need(config.kinesisLeaseTable, 'kinesis-lease-table');
    if (config.kinesisLeaseTable !== undefined) need(config.kinesisShardState, 'kinesis-shard-state');
    if (config.source === 'kafka') {
      need(config.kafkaBrokers, 'kafka-brokers');
      need(config.kafkaTopic, 'kafka-topic');
    }
  });

export type RunConfig = z.output<typeof RUN_CONFIG_SCHEMA>;
export type RunConfigInput = z.input<typeof RUN_CONFIG_SCHEMA>;

/** The options' names (camelCase), for the command line and the environment. */
export const RUN_OPTION_NAMES = Object.keys(RUN_CONFIG_SCHEMA.shape) as (keyof RunConfig)[];

const camelCase = (name: string) => name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
/** `maxOutOfOrdernessSeconds` → `GENAI_PIPELINE_MAX_OUT_OF_ORDERNESS_SECONDS`. */
export const envName = (option: string) =>
  `GENAI_PIPELINE_${option.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase()}`;

/** Reads a `--config` file: a JSON object of options. Errors name the file. */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`config file ${path} cannot be read: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`config file ${path} must hold a JSON object of options`);
  }
  return Object.fromEntries(Object.entries(parsed).map(([key, value]) => [camelCase(key), value]));
}

/**
 * The effective configuration: each option from the command line, else the environment, else the
 * config file, else its default. Throws one line naming the first bad option and where it came from.
 */
export function resolveRunConfig(layers: {
  commandLine: Record<string, unknown>;
  env: Record<string, string | undefined>;
  file?: Record<string, unknown>;
  fileName?: string;
}): RunConfig {
  // A misspelt or unsupported setting must not be ignored silently (it would run with the default).
  const known = new Set([...RUN_OPTION_NAMES.map(envName), envName('config')]);
  const unknown = Object.keys(layers.env).filter(
    (name) => name.startsWith('GENAI_PIPELINE_') && !known.has(name),
  );
  if (unknown.length > 0) {
    throw new Error(`invalid configuration: ${unknown.join(', ')}: not an option of run (see run --help)`);
  }
  const fromEnv: Record<string, unknown> = {};
  for (const option of RUN_OPTION_NAMES) {
    const value = layers.env[envName(option)];
    if (value !== undefined && value !== '') fromEnv[option] = value;
  }
  const merged = { ...layers.file, ...fromEnv, ...definedOnly(layers.commandLine) };
  const result = RUN_CONFIG_SCHEMA.safeParse(merged);
  if (result.success) return result.data;
  const issue = result.error.issues[0] as z.core.$ZodIssue;
  if (issue.code === 'unrecognized_keys') {
    throw new Error(
      `invalid configuration: ${layers.fileName ?? 'config'}: unknown option(s) ${issue.keys.join(', ')}`,
    );
  }
  const option = String(issue.path[0] ?? '');
  const message = explain(issue, merged[option as keyof typeof merged]).message;
  const origin =
    option in layers.commandLine && layers.commandLine[option] !== undefined
      ? `--${kebabCase(option)}`
      : option in fromEnv
        ? envName(option)
        : layers.fileName && layers.file && option in layers.file
          ? `${option} in ${layers.fileName}`
          : `--${kebabCase(option)}`;
  throw new Error(`invalid configuration: ${origin}: ${message}`);
}

/**
 * A union (a number or a numeric string, a boolean or "true"/"false") only says "Invalid input"; the
 * alternative the value was meant for says why: the string one for strings, else the first.
 */
function explain(issue: z.core.$ZodIssue, value: unknown): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union') return issue;
  const alternative = typeof value === 'string' ? issue.errors.at(-1) : issue.errors[0];
  return alternative?.[0] ?? issue;
}

const kebabCase = (name: string) => name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

function definedOnly(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
}
