import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The built entry point, as `npm run synth` runs it (turbo builds before testing). */
const APP = fileURLToPath(new URL('../../dist/bin/app.js', import.meta.url));
const run = promisify(execFile);

let outdir: string;
beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'genai-infra-bin-'));
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** No credentials, no region: synth must not need them. */
const offlineEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: outdir, CDK_OUTDIR: outdir };
  return env;
};

describe('bin/app', () => {
  it('synthesizes every stack into CDK_OUTDIR with -c context and no AWS credentials', async () => {
    expect(existsSync(APP), `${APP} is missing: build infra first (npx tsc -p tsconfig.json)`).toBe(true);
    const { stdout } = await run(
      process.execPath,
      [
        APP,
        '-c',
        'services=support-bot',
        '-c',
        'processorImage=public.ecr.aws/example/p:1',
        '-c',
        'timeseries=none',
      ],
      { env: offlineEnv() },
    );
    expect(stdout).toContain('GenaiPipelineMonitoring');
    const monitoring = readFileSync(join(outdir, 'GenaiPipelineMonitoring.template.json'), 'utf8');
    expect(monitoring).toContain('genai-pipeline-error-rate-support-bot');
    expect(existsSync(join(outdir, 'GenaiPipelineLake.template.json'))).toBe(true);
    expect(readFileSync(join(outdir, 'GenaiPipelinePipeline.template.json'), 'utf8')).not.toContain(
      'AWS::Timestream::Table',
    );
  });

  it('rejects a malformed argument with a message', async () => {
    await expect(run(process.execPath, [APP, '--bogus'], { env: offlineEnv() })).rejects.toMatchObject({
      stderr: expect.stringContaining('unknown argument "--bogus"'),
    });
    await expect(
      run(process.execPath, [APP, '-c', 'prefix=Bad_Prefix'], { env: offlineEnv() }),
    ).rejects.toMatchObject({
      stderr: expect.stringContaining('context "prefix"'),
    });
  });
});
