/**
 * Runs one leg as a child process and measures wall time and the child's peak RSS.
 * Peak RSS comes from GNU time's `%M` (the kernel's ru_maxrss at exit, exact) when /usr/bin/time is
 * installed, otherwise from polling VmHWM in /proc/<pid>/status (can miss the last poll interval).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GNU_TIME = '/usr/bin/time';
const TAIL_BYTES = 64 * 1024;
const POLL_MS = 100;

export const rssMethod = existsSync(GNU_TIME) ? 'gnu-time-%M' : 'proc-VmHWM-poll';

/** Resolves `{ code, signal, seconds, peakRssMb, stdout, stderr }`; stdout/stderr are their last 64 KB. */
export function runMeasured(command, args, { cwd, env } = {}) {
  const scratch = mkdtempSync(join(tmpdir(), 'bench-time-'));
  const timeFile = join(scratch, 'maxrss');
  const [file, argv] =
    rssMethod === 'gnu-time-%M'
      ? [GNU_TIME, ['-o', timeFile, '-f', '%M', command, ...args]]
      : [command, args];
  const started = process.hrtime.bigint();
  const child = spawn(file, argv, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout = tail(child.stdout);
  const stderr = tail(child.stderr);
  let polledKb = 0;
  const poll =
    rssMethod === 'gnu-time-%M'
      ? null
      : setInterval(() => (polledKb = Math.max(polledKb, vmHwmKb(child.pid))), POLL_MS);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (poll) clearInterval(poll);
      const peakKb = poll ? polledKb : readGnuTimeKb(timeFile);
      rmSync(scratch, { recursive: true, force: true });
      resolve({ code, signal, seconds, peakRssMb: peakKb / 1024, stdout: stdout(), stderr: stderr() });
    });
  });
}

function tail(stream) {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    text += chunk;
    if (text.length > 2 * TAIL_BYTES) text = text.slice(-TAIL_BYTES);
  });
  return () => text.slice(-TAIL_BYTES);
}

function vmHwmKb(pid) {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0; // the process has just exited
  }
}

/** GNU time writes "Command exited with non-zero status N" before the figure on failure: take the last line. */
function readGnuTimeKb(file) {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const kb = Number(lines.at(-1));
    return Number.isFinite(kb) ? kb : 0;
  } catch {
    return 0;
  }
}
