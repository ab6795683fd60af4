/** Builds and synthesizes the app in-process, with context, as `bin/app.ts` does. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Annotations, Template } from 'aws-cdk-lib/assertions';
import { buildApp, type GenAiPipelineApp } from '../../src/app.js';

/** A prebuilt image, so most tests skip staging the repository as a Docker asset. */
export const TEST_IMAGE = 'public.ecr.aws/example/genai-pipeline:test';

export const TEST_SERVICES = ['support-bot', 'search'];

export interface Synthesized extends GenAiPipelineApp {
  lakeTemplate: Template;
  pipelineTemplate: Template;
  monitoringTemplate: Template;
  /** Synth-time warnings and errors of the monitoring stack. */
  monitoringAnnotations: Annotations;
  quickSightTemplate?: Template;
}

export function synth(context: Record<string, unknown> = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'genai-infra-synth-'));
  try {
    const built = buildApp({
      outdir,
      context: { processorImage: TEST_IMAGE, services: TEST_SERVICES.join(','), ...context },
    });
    return {
      ...built,
      lakeTemplate: Template.fromStack(built.lake),
      pipelineTemplate: Template.fromStack(built.pipeline),
      monitoringTemplate: Template.fromStack(built.monitoring),
      monitoringAnnotations: Annotations.fromStack(built.monitoring),
      quickSightTemplate: built.quickSight === undefined ? undefined : Template.fromStack(built.quickSight),
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The resources of one type, by logical id. */
export function resourcesOf(
  template: Template,
  type: string,
): Record<string, { Properties: Record<string, unknown> }> {
  return template.findResources(type) as Record<string, { Properties: Record<string, unknown> }>;
}

/** Resolves an `Fn::Join` of strings and tokens into one string, tokens as `<token>`. */
export function joined(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join === undefined) return '<token>';
  return join[1].map((part) => (typeof part === 'string' ? part : '<token>')).join(join[0]);
}

/** The properties of the one resource of a type (throws unless there is exactly one). */
export function onlyResource(template: Template, type: string): Record<string, unknown> {
  const found = Object.values(resourcesOf(template, type));
  if (found.length !== 1 || found[0] === undefined)
    throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0].Properties;
}
