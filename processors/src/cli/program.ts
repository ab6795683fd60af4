import { Command, InvalidArgumentError, Option } from 'commander';
import { SINK_NAMES, type SinkOptions } from '../output/sink-setup.js';
import { replay } from '../replay/replay.js';
import { progressLine } from './progress.js';
import { addDemoCommand, addRunCommand } from './run-command.js';
import { addSinkOptions, sinkOption } from './sink-options.js';

function nonNegativeSeconds(value: string): number {
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds < 0) {
    throw new InvalidArgumentError('must be a number of seconds >= 0');
  }
  return seconds;
}

function sinkList(value: string): string[] {
  const names = value.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(SINK_NAMES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`unknown sink "${name}" (available: ${SINK_NAMES.join(', ')})`);
    }
  }
  return names;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

interface ReplayCommandOptions extends Omit<SinkOptions, 'sinks'> {
  input: string[];
  lake: string;
  pricing?: string;
  maxOutOfOrdernessSeconds: number;
  sink: string[];
}

/** The `genai-pipeline` command line (CONTRACT.md §5). Output goes through `write` so tests can capture it. */
export function buildProgram(
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Command {
  const program = new Command('genai-pipeline')
    .description('Streaming analytics for GenAI telemetry')
    .showHelpAfterError(false)
    .configureOutput({ outputError: (message, writeErr) => writeErr(`${message.split('\n')[0]}\n`) });

  const replayCommand = program
    .command('replay')
    .description('Process JSON-lines or Avro files as one partition into the Parquet lake')
    .requiredOption(
      '--input <file>',
      'input file (.jsonl, .jsonl.gz, .avro); repeat to read several in order',
      collect,
      [],
    )
    .requiredOption('--lake <dir>', 'lake directory (CONTRACT.md §4 layout)')
    .option('--pricing <file>', 'price override file (USD per million tokens)')
    .addOption(
      new Option('--max-out-of-orderness-seconds <seconds>', 'watermark lag behind the largest event time')
        .default(30)
        .argParser(nonNegativeSeconds),
    );
  // Replay has no other configuration: commander checks the sinks and defaults to the lake alone.
  addSinkOptions(replayCommand, sinkOption().argParser(sinkList).default(['lake'], 'lake'));
  replayCommand.action(async (options: ReplayCommandOptions) => {
    if (options.input.length === 0) program.error('error: --input is required');
    const progress = progressLine();
    const result = await replay({
      inputs: options.input,
      lake: options.lake,
      pricingFile: options.pricing,
      maxOutOfOrdernessSeconds: options.maxOutOfOrdernessSeconds,
      sinks: options.sink,
      s3Uri: options.s3Uri,
      cloudwatchNamespace: options.cloudwatchNamespace,
      timestreamDatabase: options.timestreamDatabase,
      timestreamTable: options.timestreamTable,
      influxUrl: options.influxUrl,
      influxToken: options.influxToken,
      influxBucket: options.influxBucket,
      influxOrg: options.influxOrg,
      influxDb: options.influxDb,
      onProgress: progress.update,
    });
    progress.done();
    // Sink health goes to stderr: the last stdout line is the contract's summary.
    for (const [sink, health] of Object.entries(result.sinks)) {
      process.stderr.write(`sink ${sink}: ${JSON.stringify(health)}\n`);
    }
    const { events, accepted, duplicates, late, invalid } = result.counters;
    write(JSON.stringify({ events, accepted, duplicates, late, invalid }));
  });

  addRunCommand(program);
  addDemoCommand(program);
  return program;
}
