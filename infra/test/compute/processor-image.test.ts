import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { DOCKERFILE, dockerExcludes, findRepoRoot } from '../../src/compute/processor-image.js';

const root = findRepoRoot();
const dockerfile = readFileSync(join(root, DOCKERFILE), 'utf8');

describe('processor image', () => {
  it('finds the repository root from the module location', () => {
    expect(existsSync(join(root, 'processors', 'package.json'))).toBe(true);
    expect(() => findRepoRoot('/nonexistent/dir/file.js')).toThrow(/Dockerfile not found/);
  });

  it('builds multi-stage from node:20-slim, runs as a non-root user, health-checks /healthz', () => {
    expect(dockerfile.match(/^FROM node:20-slim/gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^RUN npm ci /m);
    expect(dockerfile).toMatch(/--omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*http:\/\/127\.0\.0\.1:7070\/healthz/m);
    expect(dockerfile).toContain('CMD ["node", "processors/dist/cli/main.js", "run", "--no-demo"]');
  });

  it('keeps node_modules, build output and local data out of the build context', () => {
    expect(dockerExcludes(root)).toEqual(
      expect.arrayContaining(['**/node_modules', '**/dist', '**/cdk.out', '.git', 'bench-results', 'data']),
    );
  });

  it('without a prebuilt image, stages the repository as a Docker asset built from infra/docker/Dockerfile', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'genai-infra-asset-'));
    try {
      const { app, pipeline } = buildApp({ outdir });
      const template = Template.fromStack(pipeline);
      const manifest = JSON.parse(
        readFileSync(join(outdir, `${pipeline.artifactId}.assets.json`), 'utf8'),
      ) as {
        dockerImages: Record<string, { source: { directory: string; dockerFile: string; platform: string } }>;
      };
      const [image] = Object.values(manifest.dockerImages);
      expect(image?.source.dockerFile).toBe(DOCKERFILE);
      expect(image?.source.platform).toBe('linux/amd64');
      const staged = join(outdir, image?.source.directory as string);
      expect(existsSync(join(staged, 'processors', 'package.json'))).toBe(true);
      expect(existsSync(join(staged, 'node_modules'))).toBe(false);
      expect(existsSync(join(staged, 'bench-results'))).toBe(false);
      expect(app.node.tryGetContext('processorImage')).toBeUndefined();
      template.resourceCountIs('AWS::ECS::TaskDefinition', 1);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe('local Kafka compose file', () => {
  const compose = readFileSync(join(root, 'infra', 'docker', 'compose.kafka.yml'), 'utf8');
  it('starts one KRaft broker and controller from the apache/kafka image on localhost:9092', () => {
    expect(compose).toMatch(/image: apache\/kafka:/);
    expect(compose).toMatch(/KAFKA_PROCESS_ROLES: broker,controller/);
    expect(compose).toMatch(/HOST:\/\/localhost:9092/);
    expect(compose).not.toMatch(/image: .*zookeeper/i);
  });
});
