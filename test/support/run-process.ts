/** Runs the built `genai-pipeline run` as a child process and talks to its collector, as users do. */
import { type ChildProcess, spawn } from 'node:child_process';
import { CLI_PATH } from './cli.js';

export interface RunningPipeline {
  child: ChildProcess;
  /** The collector's (or health server's) base URL. */
  url: string;
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  stdout(): string;
}

const READY = /listening on (http:\/\/[\w.:[\]-]+)/;

/** Starts `run` with `args` and waits until it is listening (its log says where). */
export function startRunProcess(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<RunningPipeline> {
  const child = spawn(process.execPath, [CLI_PATH, 'run', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  let stdout = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const match = READY.exec(stderr);
      if (match?.[1]) {
        resolve({ child, url: match[1], exited, stderr: () => stderr, stdout: () => stdout });
      }
    });
    exited.then(({ code, signal }) =>
      reject(new Error(`run exited (${code ?? signal}) before listening:\n${stderr.slice(-3000)}`)),
    );
  });
}

/**
 * Posts `lines` as x-ndjson batches from `from` on, in order; stops at the first request that gets no
 * answer (the process died) and returns the index of the first line not acknowledged. `pauseMs`
 * between batches makes a steady flow instead of a burst. A 202 or a
 * 400 with per-record errors both acknowledge the batch (its valid records are stored).
 */
export async function postBatches(
  url: string,
  lines: readonly string[],
  from: number,
  batchLines: number,
  options: { shouldStop?: () => boolean; pauseMs?: number } = {},
): Promise<number> {
  const { shouldStop = () => false, pauseMs = 0 } = options;
  let next = from;
  while (next < lines.length && !shouldStop()) {
    const batch = lines.slice(next, next + batchLines);
    let status: number;
    try {
      const response = await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: batch.join('\n'),
      });
      status = response.status;
      await response.arrayBuffer();
    } catch {
      return next;
    }
    if (status === 503) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    if (status !== 202 && status !== 400) throw new Error(`collector answered ${status}`);
    next += batch.length;
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return next;
}
