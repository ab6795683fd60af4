import { Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { synth } from './support/synth.js';

describe('buildApp', () => {
  it('synthesizes the lake, pipeline and monitoring stacks offline, without an environment', () => {
    const { app, lake, pipeline, monitoring } = synth();
    expect(app.node.children.filter((child) => child instanceof Stack).map((child) => child.node.id)).toEqual(
      ['GenaiPipelineLake', 'GenaiPipelinePipeline', 'GenaiPipelineMonitoring'],
    );
    for (const stack of [lake, pipeline, monitoring]) {
      expect(stack.environment).toBe('aws://unknown-account/unknown-region');
    }
  });

  it('adds the QuickSight stack only with quicksight=true', () => {
    const { app } = synth({
      quicksight: 'true',
      quicksightPrincipalArn: 'arn:aws:quicksight:us-east-1:123456789012:user/default/analyst',
    });
    expect(app.node.children.map((child) => child.node.id)).toContain('GenaiPipelineQuickSight');
  });

  it('pins the stacks to an account and region when both are given', () => {
    const { lake, pipeline, monitoring } = synth({ account: '123456789012', region: 'eu-west-1' });
    for (const stack of [lake, pipeline, monitoring])
      expect(stack.environment).toBe('aws://123456789012/eu-west-1');
  });

  it('names stacks and resources from the prefix', () => {
    const { app, lakeTemplate } = synth({ prefix: 'acme-ai' });
    expect(app.node.children.map((child) => child.node.id)).toContain('AcmeAiLake');
    lakeTemplate.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'acme_ai' } });
  });
});
