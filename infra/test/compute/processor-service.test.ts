import { PIPELINE_HEALTH_METRICS } from '@genai-pipeline/schemas';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { LAG_SCALING_STEPS_MS } from '../../src/compute/processor-service.js';
import { joined, onlyResource, resourcesOf, type Synthesized, synth, TEST_IMAGE } from '../support/synth.js';

interface ContainerDefinition {
  Image: unknown;
  Environment: { Name: string; Value: unknown }[];
  Secrets?: { Name: string; ValueFrom: unknown }[];
  HealthCheck: { Command: string[] };
  LogConfiguration: { LogDriver: string; Options: Record<string, unknown> };
}

function container(synthesized: Synthesized): ContainerDefinition {
  const task = onlyResource(synthesized.pipelineTemplate, 'AWS::ECS::TaskDefinition');
  return (task.ContainerDefinitions as ContainerDefinition[])[0] as ContainerDefinition;
}

const env = (definition: ContainerDefinition) =>
  Object.fromEntries(definition.Environment.map(({ Name, Value }) => [Name, Value]));

const LEASE_VARIABLES = [
  'GENAI_PIPELINE_KINESIS_LEASE_TABLE',
  'GENAI_PIPELINE_KINESIS_SHARD_STATE',
  'GENAI_PIPELINE_OWNERSHIP_TIMEOUT_SECONDS',
];

let synthesized: Synthesized;
beforeAll(() => {
  synthesized = synth({ processorMinTasks: '2', processorMaxTasks: '6', logRetentionDays: '14' });
});

describe('processor service', () => {
  it('runs on Fargate in private subnets with the requested task range', () => {
    const template = synthesized.pipelineTemplate;
    template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      DesiredCount: 2,
      DeploymentConfiguration: Match.objectLike({
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      }),
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: 'DISABLED' }) },
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 2,
      MaxCapacity: 6,
      ScalableDimension: 'ecs:service:DesiredCount',
    });
  });

  it('scales on the Kinesis iterator age', () => {
    const alarms = Object.values(resourcesOf(synthesized.pipelineTemplate, 'AWS::CloudWatch::Alarm')).map(
      (alarm) => alarm.Properties,
    );
    const scaling = alarms.filter((alarm) => alarm.MetricName === 'GetRecords.IteratorAgeMilliseconds');
    expect(scaling.map((alarm) => [alarm.Namespace, alarm.Statistic, alarm.Threshold]).sort()).toEqual(
      [
        ['AWS/Kinesis', 'Maximum', LAG_SCALING_STEPS_MS.scaleIn],
        ['AWS/Kinesis', 'Maximum', LAG_SCALING_STEPS_MS.scaleOut],
      ].sort(),
    );
    synthesized.pipelineTemplate.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling',
      StepScalingPolicyConfiguration: Match.objectLike({ AdjustmentType: 'ChangeInCapacity' }),
    });
  });

  it('shares the Kinesis shards among its tasks through the lease table and shard state', () => {
    const variables = env(container(synthesized));
    expect(variables.GENAI_PIPELINE_KINESIS_LEASE_TABLE).toEqual({
      Ref: expect.stringMatching(/^ShardLeasesTable/),
    });
    expect(joined(variables.GENAI_PIPELINE_KINESIS_SHARD_STATE)).toBe('s3://<token>/lake-state/shards');
    expect(JSON.stringify(variables.GENAI_PIPELINE_KINESIS_SHARD_STATE)).toContain('Fn::ImportValue');
    expect(variables.GENAI_PIPELINE_OWNERSHIP_TIMEOUT_SECONDS).toBe('30');
  });

  it('scales on the processor-published consumer lag when the source is MSK, without shard leases', () => {
    const msk = synth({
      mskClusterArn:
        'arn:aws:kafka:eu-west-1:123456789012:cluster/events/0b1c2d3e-1111-2222-3333-444455556666-2',
      mskBootstrapBrokers: 'b-1:9098',
    });
    msk.pipelineTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: PIPELINE_HEALTH_METRICS.consumerLagMs.name,
      Namespace: 'GenAI/Pipeline',
      Threshold: LAG_SCALING_STEPS_MS.scaleOut,
    });
    const variables = Object.keys(env(container(msk)));
    expect(variables).toContain('GENAI_PIPELINE_KAFKA_TOPIC');
    for (const name of LEASE_VARIABLES) expect(variables).not.toContain(name);
  });

  it('logs to CloudWatch Logs with retention', () => {
    synthesized.pipelineTemplate.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/genai-pipeline/processor',
      RetentionInDays: 14,
    });
    expect(container(synthesized).LogConfiguration.LogDriver).toBe('awslogs');
  });

  it('runs the given image, health-checked on /healthz, configured through GENAI_PIPELINE_* variables', () => {
    const definition = container(synthesized);
    expect(definition.Image).toBe(TEST_IMAGE);
    expect(definition.HealthCheck.Command.join(' ')).toContain('http://127.0.0.1:7070/healthz');
    expect(env(definition)).toMatchObject({
      GENAI_PIPELINE_SINK: 's3,cloudwatch,timestream',
      GENAI_PIPELINE_CLOUDWATCH_NAMESPACE: 'GenAI/Pipeline',
      GENAI_PIPELINE_TIMESTREAM_TABLE: 'rollups_1m',
      GENAI_PIPELINE_SOURCE: 'kinesis',
    });
  });

  it('passes the InfluxDB token only as a secret', () => {
    const tokenArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:influx-token-AbCdEf';
    const influx = synth({ timeseries: 'influxdb', influxTokenSecretArn: tokenArn });
    const definition = container(influx);
    expect(env(definition).GENAI_PIPELINE_SINK).toBe('s3,cloudwatch,influxdb');
    expect(env(definition).GENAI_PIPELINE_INFLUX_TOKEN).toBeUndefined();
    expect(definition.Secrets).toEqual([{ Name: 'GENAI_PIPELINE_INFLUX_TOKEN', ValueFrom: tokenArn }]);
  });
});
