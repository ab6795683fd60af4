/**
 * Where the processor image comes from: a prebuilt registry image (`processorImage` context), or a
 * CDK asset built from infra/docker/Dockerfile with the repository root as context (synth only
 * stages the files; the build happens at deploy time, on a machine with Docker).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IgnoreMode } from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';

export const DOCKERFILE = 'infra/docker/Dockerfile';
const DOCKERIGNORE = `${DOCKERFILE}.dockerignore`;

/**
 * The repository root: the nearest ancestor of this module holding the Dockerfile. Searched, not
 * fixed, because this module runs both from src/ (tests) and from dist/src/ (synth).
 */
export function findRepoRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    if (existsSync(join(dir, DOCKERFILE))) return dir;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`${DOCKERFILE} not found above ${from}: run from a repository checkout`);
    dir = parent;
  }
}

/** The Docker build's exclude patterns, read from the same file Docker reads. */
export function dockerExcludes(repoRoot: string): string[] {
  return readFileSync(join(repoRoot, DOCKERIGNORE), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

export function processorImage(registryImage: string | undefined): ecs.ContainerImage {
  if (registryImage !== undefined) return ecs.ContainerImage.fromRegistry(registryImage);
  const repoRoot = findRepoRoot();
  return ecs.ContainerImage.fromAsset(repoRoot, {
    file: DOCKERFILE,
    exclude: dockerExcludes(repoRoot),
    ignoreMode: IgnoreMode.DOCKER,
    platform: Platform.LINUX_AMD64,
  });
}
