import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Command, CommanderError } from 'commander';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';

/**
 * The program with its `run` command made testable: commander throws instead of exiting, and what it
 * would print goes to `out` / `err`. The rest of the program's output configuration (one-line errors)
 * stays as buildProgram set it.
 */
function program() {
  const out: string[] = [];
  const err: string[] = [];
  const built = buildProgram();
  const run = built.commands.find((command) => command.name() === 'run') as Command;
  for (const command of [built, run]) {
    command.exitOverride();
    command.configureOutput({ writeOut: (text) => out.push(text), writeErr: (text) => err.push(text) });
  }
  const parse = (args: string[]) => built.parseAsync(['node', 'genai-pipeline', ...args]);
  return { parse, out, err };
}

/** Where a run would put its lake and state: nothing may appear there when the options are bad. */
async function unusedDirs(): Promise<{ args: string[]; created: () => boolean }> {
  const root = await mkdtemp(join(tmpdir(), 'run-command-'));
  const lake = join(root, 'lake');
  const state = join(root, 'state');
  return {
    args: ['--lake', lake, '--state-dir', state],
    created: () => existsSync(lake) || existsSync(state),
  };
}

// The command reads process.env: each test starts without GENAI_PIPELINE_* and leaves it as it was.
const ownVariables = () => Object.keys(process.env).filter((name) => name.startsWith('GENAI_PIPELINE_'));
const savedEnv = Object.fromEntries(ownVariables().map((name) => [name, process.env[name]]));
beforeEach(() => {
  for (const name of ownVariables()) delete process.env[name];
});
afterEach(() => {
  for (const name of ownVariables()) delete process.env[name];
  Object.assign(process.env, savedEnv);
});

describe('genai-pipeline run', () => {
  test('--help lists the options and says they can be environment variables', async () => {
    const { parse, out } = program();
    await expect(parse(['run', '--help'])).rejects.toMatchObject({ code: 'commander.helpDisplayed' });
    const help = out.join('');
    for (const option of [
      '--config <file>',
      '--source <name>',
      '--lake <dir>',
      '--state-dir <dir>',
      '--port <port>',
      '--pricing <file>',
      '--max-out-of-orderness-seconds <seconds>',
      '--checkpoint-interval-seconds <seconds>',
      '--no-demo',
      '--sink <names>',
      '--s3-uri <uri>',
      '--cloudwatch-namespace <namespace>',
      '--timestream-database <name>',
      '--influx-url <url>',
      '--influx-db <database>',
      '--kinesis-stream <name>',
      '--kafka-brokers <list>',
      '--kafka-topic <topic>',
    ]) {
      expect(help).toContain(option);
    }
    expect(help).toContain('GENAI_PIPELINE_LAKE');
    expect(help).toContain('GENAI_PIPELINE_MAX_OUT_OF_ORDERNESS_SECONDS');
  });

  test('a bad option value on the command line fails with one line naming the flag, starting nothing', async () => {
    const { parse } = program();
    const dirs = await unusedDirs();
    const failure = parse(['run', ...dirs.args, '--port', 'abc']);
    await expect(failure).rejects.toThrow(/^invalid configuration: --port: [^\n]+$/);
    expect(dirs.created()).toBe(false);
  });

  test('a bad environment variable fails with one line naming the variable, starting nothing', async () => {
    const { parse } = program();
    const dirs = await unusedDirs();
    process.env.GENAI_PIPELINE_PORT = 'abc';
    await expect(parse(['run', ...dirs.args])).rejects.toThrow(
      /^invalid configuration: GENAI_PIPELINE_PORT: [^\n]+$/,
    );
    expect(dirs.created()).toBe(false);
  });

  test('the command line wins over the environment: a good flag hides a bad variable', async () => {
    const { parse } = program();
    const dirs = await unusedDirs();
    process.env.GENAI_PIPELINE_PORT = 'abc';
    // The port is fine now; the source still needs its stream, so nothing starts.
    await expect(parse(['run', ...dirs.args, '--port', '0', '--source', 'kinesis'])).rejects.toThrow(
      'invalid configuration: --kinesis-stream: --source kinesis needs --kinesis-stream',
    );
  });

  test('--config: a bad value in the file names the file; an unreadable file names it too', async () => {
    const { parse } = program();
    const dirs = await unusedDirs();
    const file = join(await mkdtemp(join(tmpdir(), 'run-command-')), 'run.json');
    await writeFile(file, JSON.stringify({ 'max-out-of-orderness-seconds': -5 }));
    await expect(parse(['run', ...dirs.args, '--config', file])).rejects.toThrow(
      new RegExp(`^invalid configuration: maxOutOfOrdernessSeconds in ${file}: `),
    );
    const missing = join(tmpdir(), 'no-such-run-config.json');
    await expect(parse(['run', ...dirs.args, '--config', missing])).rejects.toThrow(
      `config file ${missing} cannot be read`,
    );
    expect(dirs.created()).toBe(false);
  });

  test('commander rejects an unknown source or option with one line on stderr', async () => {
    const { parse, err } = program();
    const choice = parse(['run', '--source', 'pubsub']);
    await expect(choice).rejects.toBeInstanceOf(CommanderError);
    await expect(choice).rejects.toMatchObject({ code: 'commander.invalidArgument' });
    expect(err.join('')).toMatch(/^error: option '--source <name>' argument 'pubsub' is invalid[^\n]*\n$/);
    err.length = 0;
    await expect(parse(['run', '--no-such-option'])).rejects.toMatchObject({
      code: 'commander.unknownOption',
    });
    expect(err.join('')).toMatch(/^error: unknown option '--no-such-option'\n$/);
  });
});
