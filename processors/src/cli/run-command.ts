import { type Command, Option } from 'commander';
import { pino } from 'pino';
import { type DemoStats, runDemo } from '../demo/demo.js';
import {
  envName,
  RUN_OPTION_NAMES,
  type RunConfig,
  readConfigFile,
  resolveRunConfig,
} from '../run/config.js';
import { type RunHandle, startRun } from '../run/run.js';
import { addSinkOptions, sinkOption } from './sink-options.js';
import { createStatusView, demoSummary } from './status-view.js';

const STATUS_INTERVAL_MS = 1_000;

/** `genai-pipeline run` (CONTRACT.md §5, §6). Every option is also GENAI_PIPELINE_<OPTION> or a --config key. */
export function addRunCommand(program: Command): void {
  const command = program
    .command('run')
    .description(
      'Run the pipeline continuously: sources → windows → sinks, checkpointed (default: the embedded collector and log, with a demo workload)',
    )
    .option(
      '--config <file>',
      'JSON file of options (camelCase or kebab-case keys); also GENAI_PIPELINE_CONFIG',
    )
    .addOption(
      new Option('--source <name>', 'where events come from').choices(['embedded', 'kinesis', 'kafka']),
    )
    .option('--lake <dir>', 'lake directory (default data/lake)')
    .option('--state-dir <dir>', 'checkpoints and the embedded log (default data/state)')
    .option('--host <address>', 'collector / health address (default 127.0.0.1)')
    .option('--port <port>', 'collector / health port (default 7070)')
    .option('--pricing <file>', 'price override file (USD per million tokens)')
    .option(
      '--max-out-of-orderness-seconds <seconds>',
      'watermark lag behind the largest event time (default 30)',
    )
    .option('--checkpoint-interval-seconds <seconds>', 'processing time between checkpoints (default 10)')
    .option('--max-body-bytes <bytes>', 'largest collector request body (default 5 MiB)')
    .option('--demo', 'run the demo workload against the embedded collector (the default)')
    .option('--no-demo', 'no demo workload');
  // No default and no check here: the sinks may come from the environment or the config file too.
  addSinkOptions(command, sinkOption())
    .option('--kinesis-stream <name>', 'with --source kinesis')
    .option(
      '--kinesis-lease-table <name>',
      'with --source kinesis: share the shards among instances through leases in this DynamoDB table',
    )
    .option(
      '--kinesis-shard-state <dir|s3-uri>',
      'with a lease table (required): where shard state goes, s3://bucket/prefix or a directory every instance reaches',
    )
    .option('--kafka-brokers <list>', 'with --source kafka: host:port,...')
    .option('--kafka-topic <topic>', 'with --source kafka')
    .option('--kafka-group <group>', 'with --source kafka: consumer group (default genai-pipeline)')
    .option(
      '--kafka-session-timeout-seconds <seconds>',
      'with --source kafka: group session timeout (default 30, at least 6)',
    )
    .option(
      '--instance-id <id>',
      'this process among instances sharing --state-dir (default: host name and process id)',
    )
    .option(
      '--ownership-timeout-seconds <seconds>',
      'silence after which another instance may take a partition (default 30)',
    );
  command.addHelpText(
    'after',
    `\nEvery option can also be set as an environment variable, e.g. ${envName('lake')}, ${envName('maxOutOfOrdernessSeconds')}.`,
  );
  command.action(async (options: Record<string, unknown>) => {
    const configFile =
      (options.config as string | undefined) ?? (process.env[envName('config')] || undefined);
    const commandLine = Object.fromEntries(
      RUN_OPTION_NAMES.filter((name) => command.getOptionValueSource(name) === 'cli').map((name) => [
        name,
        options[name],
      ]),
    );
    const config = resolveRunConfig({
      commandLine,
      env: process.env,
      ...(configFile ? { file: await readConfigFile(configFile), fileName: configFile } : {}),
    });
    await runUntilSignalled(config);
  });
}

/** Runs until SIGINT/SIGTERM (then stops cleanly, exit 0) or an operational failure (exit 1). */
async function runUntilSignalled(config: RunConfig): Promise<void> {
  // On a terminal the status view redraws in place: only warnings may cut into it.
  const liveView = process.stdout.isTTY === true;
  const logger = pino(
    { base: undefined, level: liveView ? 'warn' : 'info' },
    pino.destination({ dest: 2, sync: true }),
  );
  const log = (line: string) => logger.info(line);
  const handle: RunHandle = await startRun(config, { log: (line) => logger.warn(line) });
  log(`genai-pipeline run: source ${config.source}, lake ${config.lake}, listening on ${handle.url}`);
  const view = createStatusView({ stream: process.stdout });
  let demoStats: DemoStats | undefined;
  const refresh = setInterval(() => view.update(handle.status(), demoStats), STATUS_INTERVAL_MS);
  const demoAbort = new AbortController();
  let demo: Promise<unknown> = Promise.resolve();
  if (config.demo && config.source === 'embedded') {
    const notBefore = handle.closedThrough();
    demo = runDemo({
      url: handle.url,
      signal: demoAbort.signal,
      // A restart goes on after the windows already closed instead of sending late events.
      ...(notBefore !== undefined ? { notBefore } : {}),
      onStats: (stats) => {
        demoStats = stats;
      },
    }).catch((error: Error) => logger.warn(`demo workload stopped: ${error.message}`));
  }
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  try {
    const signal = await Promise.race([signalled, handle.done.then(() => undefined)]);
    if (signal) log(`${signal}: stopping input, delivering what was processed, checkpointing`);
  } finally {
    // The demo first: it flushes what it emitted while the collector still takes it.
    demoAbort.abort();
    await demo;
    clearInterval(refresh);
    try {
      await handle.stop();
      view.update(handle.status(), demoStats);
    } finally {
      view.close();
    }
  }
  log('stopped cleanly; the next start resumes from the checkpoint');
}

/** `genai-pipeline demo`: the demo workload alone, against any collector. */
export function addDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'Send the demo workload (several services, models, tenants, scheduled incidents) to a collector',
    )
    .option('--url <url>', 'collector base URL', 'http://127.0.0.1:7070')
    .option('--seed <n>', 'workload seed', '1')
    .option('--speed <x>', 'how much faster than real time the backfill runs', '10')
    .option('--backfill-minutes <n>', 'how far in the past the simulated clock starts', '15')
    .option('--rate <x>', 'traffic multiplier (1: about 15 events/s at real time)', '1')
    .action(async (options: Record<string, string>) => {
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      process.once('SIGTERM', () => abort.abort());
      let lastLine = 0;
      const stats = await runDemo({
        url: options.url as string,
        signal: abort.signal,
        seed: Number(options.seed),
        speed: Number(options.speed),
        backfillMinutes: Number(options.backfillMinutes),
        rate: Number(options.rate),
        onStats: (s) => {
          const now = Date.now();
          if (now - lastLine < 10_000) return;
          lastLine = now;
          process.stderr.write(`demo: emitted ${s.emitted} · ${demoSummary(s)}\n`);
        },
      });
      process.stdout.write(
        `${JSON.stringify({ emitted: stats.emitted, sent: stats.sent, dropped: stats.dropped })}\n`,
      );
    });
}
