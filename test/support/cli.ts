/** Runs the built `genai-pipeline` CLI as a child process, the way a user does. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Resolved from this file, so the tests work from any checkout location. */
export const CLI_PATH = fileURLToPath(new URL('../../processors/dist/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `env` adds to (or overrides) this process's environment, e.g. AWS endpoint overrides. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      }),
    );
  });
}

/** The last non-empty stdout line parsed as JSON (CONTRACT.md §5: the summary is the last line). */
export function lastJsonLine(stdout: string): unknown {
  const lines = stdout.split('\n').filter((line) => line.trim() !== '');
  const last = lines.at(-1);
  if (last === undefined) throw new Error('CLI printed nothing on stdout');
  return JSON.parse(last);
}

/** Replay arguments for inputs, a lake and optional extras. */
export function replayArgs(inputs: readonly string[], lake: string, extra: readonly string[] = []): string[] {
  return ['replay', ...inputs.flatMap((input) => ['--input', input]), '--lake', lake, ...extra];
}
