/** CloudWatch: alarms to one SNS topic, and the dashboards. */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { InfraConfig } from '../config.js';
import { PipelineAlarms } from '../monitoring/alarms.js';
import { PipelineDashboards } from '../monitoring/dashboards.js';
import { PipelineMetrics } from '../monitoring/pipeline-metrics.js';

export interface MonitoringTargets {
  processorService?: ecs.FargateService;
  processorLogGroup?: logs.ILogGroup;
  sourceLag?: cloudwatch.IMetric;
}

export class MonitoringStack extends Stack {
  readonly alarms: PipelineAlarms;
  readonly dashboards: PipelineDashboards;

  constructor(
    scope: Construct,
    id: string,
    config: InfraConfig,
    targets: MonitoringTargets,
    props?: StackProps,
  ) {
    super(scope, id, props);
    const metrics = new PipelineMetrics(config.namespace);
    this.alarms = new PipelineAlarms(this, 'Alarms', { config, metrics });
    this.dashboards = new PipelineDashboards(this, 'Dashboards', {
      config,
      metrics,
      alarms: [...this.alarms.alarms, this.alarms.systemDegraded],
      ...targets,
    });
    new CfnOutput(this, 'AlarmTopic', { value: this.alarms.topic.topicArn });
  }
}
