/**
 * The processor on ECS Fargate: one service in private subnets, logs to CloudWatch Logs with
 * retention, least-privilege task role, and autoscaling on how far behind the source it reads
 * (Kinesis iterator age, or the processor's own ConsumerLagMs for MSK). With Kinesis the tasks share
 * the stream's shards through leases (ShardLeases); with MSK through the consumer group.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config.js';
import type { LakeStorageRef } from '../lake/lake-storage.js';
import type { EventStream } from '../streaming/event-stream.js';
import type { ShardLeases } from '../streaming/shard-leases.js';
import { INFLUX_PORT, type TimeSeriesStore } from '../timeseries/time-series-store.js';
import { processorImage } from './processor-image.js';
import { processorStatements } from './processor-permissions.js';

export const COLLECTOR_PORT = 7070;

/** Lag (ms) steps: shrink below the first, grow from the second, grow faster from the third. */
export const LAG_SCALING_STEPS_MS = { scaleIn: 10_000, scaleOut: 60_000, scaleOutFast: 300_000 } as const;

export interface ProcessorServiceProps {
  config: InfraConfig;
  vpc: ec2.IVpc;
  stream: EventStream;
  /** With Kinesis: how the tasks share its shards. */
  shardLeases?: ShardLeases;
  lake: LakeStorageRef;
  timeSeries: TimeSeriesStore;
  /** The metric the service scales on (ms behind the source). */
  lagMetric: cloudwatch.IMetric;
}

export class ProcessorService extends Construct {
  readonly cluster: ecs.Cluster;
  readonly service: ecs.FargateService;
  readonly taskRole: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ProcessorServiceProps) {
    super(scope, id);
    const { config } = props;
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      clusterName: config.prefix,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/${config.prefix}/processor`,
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'genai-pipeline processor: its stream, its lake prefix, its namespace, its table',
    });
    for (const statement of processorStatements(this, {
      kinesisStreamArn: props.stream.kinesisStream?.streamArn,
      shardLeases:
        props.shardLeases === undefined
          ? undefined
          : { tableArn: props.shardLeases.table.tableArn, stateKeyPrefix: props.shardLeases.stateKeyPrefix },
      msk: props.stream.msk,
      lakeBucketArn: props.lake.bucketArn,
      lakePrefix: props.lake.lakePrefix,
      lakeKeyArn: props.lake.keyArn,
      namespace: config.namespace,
      timestreamTableArn: props.timeSeries.timestream?.tableArn,
    })) {
      this.taskRole.addToPrincipalPolicy(statement);
    }

    const task = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: config.processorCpu,
      memoryLimitMiB: config.processorMemoryMiB,
      taskRole: this.taskRole,
      runtimePlatform: {
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
        cpuArchitecture: ecs.CpuArchitecture.X86_64,
      },
    });
    const { environment, secrets } = this.settings(props);
    task.addContainer('processor', {
      image: processorImage(config.processorImage),
      essential: true,
      environment,
      secrets,
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'processor', logGroup: this.logGroup }),
      healthCheck: {
        command: [
          'CMD',
          'node',
          '-e',
          `fetch('http://127.0.0.1:${COLLECTOR_PORT}/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
        ],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        startPeriod: Duration.seconds(60),
        retries: 3,
      },
      // SIGTERM flushes closed windows, checkpoints and releases its shard leases, so the other tasks
      // take them at once (CONTRACT.md §6): give it time.
      stopTimeout: Duration.seconds(90),
    });

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: task,
      serviceName: `${config.prefix}-processor`,
      desiredCount: config.processorMinTasks,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      circuitBreaker: { enable: true, rollback: true },
      enableExecuteCommand: false,
    });
    if (props.timeSeries.influx !== undefined) {
      props.timeSeries.influx.securityGroup.addIngressRule(
        this.service.connections.securityGroups[0] as ec2.ISecurityGroup,
        ec2.Port.tcp(INFLUX_PORT),
        'processor writes to InfluxDB',
      );
    }

    // A shard (or partition) is read by one task at a time, so tasks beyond the shard count hold no
    // lease and idle until one frees up; nor do more tasks help lag on one hot shard. Not capped
    // here, as an on-demand stream's shard count is not known at synth time: it starts at 4 (also
    // processorMaxTasks' default) and grows with write throughput.
    const scaling = this.service.autoScaleTaskCount({
      minCapacity: config.processorMinTasks,
      maxCapacity: config.processorMaxTasks,
    });
    scaling.scaleOnMetric('ScaleOnSourceLag', {
      metric: props.lagMetric,
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      scalingSteps: [
        { upper: LAG_SCALING_STEPS_MS.scaleIn, change: -1 },
        { lower: LAG_SCALING_STEPS_MS.scaleOut, change: +1 },
        { lower: LAG_SCALING_STEPS_MS.scaleOutFast, change: +3 },
      ],
      cooldown: Duration.minutes(3),
      evaluationPeriods: 3,
    });
  }

  /** The processor's options as `GENAI_PIPELINE_*` variables (CONTRACT.md §5). */
  private settings(props: ProcessorServiceProps): {
    environment: Record<string, string>;
    secrets: Record<string, ecs.Secret>;
  } {
    const sinks = ['s3', 'cloudwatch'];
    const environment: Record<string, string> = {
      ...props.stream.sourceEnvironment(),
      ...props.shardLeases?.environment(),
      GENAI_PIPELINE_S3_URI: `s3://${props.lake.bucketName}/${props.lake.lakePrefix}`,
      GENAI_PIPELINE_CLOUDWATCH_NAMESPACE: props.config.namespace,
    };
    const secrets: Record<string, ecs.Secret> = {};
    const { timestream, influx } = props.timeSeries;
    if (timestream !== undefined) {
      sinks.push('timestream');
      environment.GENAI_PIPELINE_TIMESTREAM_DATABASE = timestream.databaseName;
      environment.GENAI_PIPELINE_TIMESTREAM_TABLE = timestream.tableName;
    }
    if (influx !== undefined) {
      sinks.push('influxdb');
      environment.GENAI_PIPELINE_INFLUX_URL = influx.url;
      environment.GENAI_PIPELINE_INFLUX_BUCKET = influx.bucket;
      const tokenArn = props.config.influx.tokenSecretArn;
      if (tokenArn !== undefined) {
        // Only the execution role reads it, and only this secret.
        secrets.GENAI_PIPELINE_INFLUX_TOKEN = ecs.Secret.fromSecretsManager(
          secretsmanager.Secret.fromSecretCompleteArn(this, 'InfluxToken', tokenArn),
        );
      }
    }
    environment.GENAI_PIPELINE_SINK = sinks.join(',');
    return { environment, secrets };
  }
}
