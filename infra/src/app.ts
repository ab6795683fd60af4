/** The CDK app: stacks and their wiring, built from context (see config.ts for every flag). */
import { App, type AppProps, type StackProps } from 'aws-cdk-lib';
import { type InfraConfig, readConfig } from './config.js';
import { LakeStack } from './stacks/lake-stack.js';
import { MonitoringStack } from './stacks/monitoring-stack.js';
import { PipelineStack } from './stacks/pipeline-stack.js';
import { QuickSightStack } from './stacks/quicksight-stack.js';

export interface GenAiPipelineApp {
  app: App;
  config: InfraConfig;
  lake: LakeStack;
  pipeline: PipelineStack;
  monitoring: MonitoringStack;
  quickSight?: QuickSightStack;
}

export function buildApp(props: AppProps = {}): GenAiPipelineApp {
  const app = new App(props);
  const config = readConfig((key) => app.node.tryGetContext(key));
  const stackProps: StackProps = config.env === undefined ? {} : { env: config.env };
  const name = (suffix: string) =>
    `${config.prefix
      .split('-')
      .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
      .join('')}${suffix}`;
  const lake = new LakeStack(app, name('Lake'), config, {
    ...stackProps,
    description: 'genai-pipeline lake: S3 (SSE-KMS), Glue tables with partition projection, Athena',
  });
  const pipeline = new PipelineStack(app, name('Pipeline'), config, lake.storage.ref(), {
    ...stackProps,
    description: 'genai-pipeline streams and compute: Kinesis or MSK, ECS Fargate processor, Timestream',
  });
  const monitoring = new MonitoringStack(
    app,
    name('Monitoring'),
    config,
    {
      processorService: pipeline.processor.service,
      processorLogGroup: pipeline.processor.logGroup,
      sourceLag: pipeline.stream.iteratorAge(),
    },
    { ...stackProps, description: 'genai-pipeline CloudWatch dashboards and alarms' },
  );
  const quickSight =
    config.quickSight === undefined
      ? undefined
      : new QuickSightStack(app, name('QuickSight'), config.prefix, config.quickSight, lake, {
          ...stackProps,
          description: 'genai-pipeline QuickSight data source and datasets over Athena',
        });
  return { app, config, lake, pipeline, monitoring, quickSight };
}
