import { Command, InvalidArgumentError, Option } from 'commander';
import { replay } from '../replay/replay.js';
import { progressLine } from './progress.js';

const AVAILABLE_SINKS = ['lake'];

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
    if (!AVAILABLE_SINKS.includes(name)) {
      throw new InvalidArgumentError(`unknown sink "${name}" (available: ${AVAILABLE_SINKS.join(', ')})`);
    }
  }
  return names;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** The `genai-pipeline` command line (CONTRACT.md §5). Output goes through `write` so tests can capture it. */
export function buildProgram(
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Command {
  const program = new Command('genai-pipeline')
    .description('Streaming analytics for GenAI telemetry')
    .showHelpAfterError(false)
    .configureOutput({ outputError: (message, writeErr) => writeErr(`${message.split('\n')[0]}\n`) });

  program
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
    )
    .addOption(
      new Option('--sink <names>', 'comma-separated sinks').default(['lake'], 'lake').argParser(sinkList),
    )
    .action(
      async (options: {
        input: string[];
        lake: string;
        pricing?: string;
        maxOutOfOrdernessSeconds: number;
      }) => {
        if (options.input.length === 0) program.error('error: --input is required');
        const progress = progressLine();
        const counters = await replay({
          inputs: options.input,
          lake: options.lake,
          pricingFile: options.pricing,
          maxOutOfOrdernessSeconds: options.maxOutOfOrdernessSeconds,
          onProgress: progress.update,
        });
        progress.done();
        const { events, accepted, duplicates, late, invalid } = counters;
        write(JSON.stringify({ events, accepted, duplicates, late, invalid }));
      },
    );

  return program;
}
