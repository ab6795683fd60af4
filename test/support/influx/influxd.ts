/**
 * A real InfluxDB 1.x for the v1 path of the InfluxDB sink: the one CI started (`INFLUX_V1_URL`, from
 * `.ci/influxdb.sh`), or one started here through the same script when `influxd` is installed, stopped
 * by its own pid afterwards. The script installs Debian's influxdb when it is missing; this launcher
 * never does: tests report the absence instead.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const SCRIPT = fileURLToPath(new URL('../../../.ci/influxdb.sh', import.meta.url));

export interface InfluxV1 {
  url: string;
  stop(): Promise<void>;
}

/** Where a v1 server comes from, or why there is none (for the test's failure or skip message). */
export type InfluxV1Source =
  | { kind: 'url'; url: string }
  | { kind: 'binary'; path: string }
  | { kind: 'none'; reason: string };

export function influxV1Source(env: NodeJS.ProcessEnv = process.env): InfluxV1Source {
  const url = env.INFLUX_V1_URL?.trim();
  if (url) return { kind: 'url', url };
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const path = join(dir, 'influxd');
    try {
      accessSync(path, constants.X_OK);
      return { kind: 'binary', path };
    } catch {
      // not in this directory
    }
  }
  return {
    kind: 'none',
    reason:
      'no InfluxDB 1.x for the v1 write path: INFLUX_V1_URL is not set and influxd is not installed. ' +
      "Run `.ci/influxdb.sh` (installs Debian's influxdb and prints the URL) and export INFLUX_V1_URL, or install influxdb.",
  };
}

export async function startInfluxV1(source: InfluxV1Source = influxV1Source()): Promise<InfluxV1> {
  if (source.kind === 'none') throw new Error(source.reason);
  if (source.kind === 'url') return { url: source.url.replace(/\/$/, ''), stop: async () => {} };
  const stateDir = await mkdtemp(join(tmpdir(), 'influxd-test-'));
  const { stdout } = await promisify(execFile)('bash', [SCRIPT], {
    env: { ...process.env, INFLUXD_STATE_DIR: stateDir },
    timeout: 60_000,
  });
  const pid = Number((await readFile(join(stateDir, 'influxd.pid'), 'utf8')).trim());
  return {
    url: stdout.trim(),
    async stop() {
      try {
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 100 && isAlive(pid); i++)
          await new Promise((resolve) => setTimeout(resolve, 100));
        if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      } finally {
        await rm(stateDir, { recursive: true, force: true });
      }
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface InfluxSeries {
  name: string;
  columns: string[];
  values: unknown[][];
  tags?: Record<string, string>;
}

/** InfluxQL through `/query` (times as epoch ms); rejects with the server's error. */
export async function influxQuery(url: string, query: string, db?: string): Promise<InfluxSeries[]> {
  const params = new URLSearchParams({ q: query, epoch: 'ms' });
  if (db !== undefined) params.set('db', db);
  const response = await fetch(`${url}/query`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: params,
  });
  const body = (await response.json()) as {
    error?: string;
    results?: Array<{ error?: string; series?: InfluxSeries[] }>;
  };
  const error = body.error ?? body.results?.find((r) => r.error)?.error;
  if (!response.ok || error)
    throw new Error(`InfluxQL "${query}" failed: HTTP ${response.status} ${error ?? ''}`);
  return body.results?.flatMap((r) => r.series ?? []) ?? [];
}
