/**
 * Streams and compute: the transport (with Kinesis, the shard leases its consumers share), the VPC,
 * the time-series store and the processor service.
 */

import { PIPELINE_HEALTH_METRICS } from '@genai-pipeline/schemas';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import { ProcessorService } from '../compute/processor-service.js';
import type { InfraConfig } from '../config.js';
import type { LakeStorageRef } from '../lake/lake-storage.js';
import { PipelineMetrics } from '../monitoring/pipeline-metrics.js';
import { EventStream } from '../streaming/event-stream.js';
import { ShardLeases } from '../streaming/shard-leases.js';
import { TimeSeriesStore } from '../timeseries/time-series-store.js';

export class PipelineStack extends Stack {
  readonly vpc: ec2.IVpc;
  readonly stream: EventStream;
  /** With Kinesis: how processor tasks share its shards (MSK has its consumer group). */
  readonly shardLeases?: ShardLeases;
  readonly timeSeries: TimeSeriesStore;
  readonly processor: ProcessorService;
  /** What autoscaling and the lag widgets read: ms behind the source. */
  readonly sourceLag: cloudwatch.IMetric;

  constructor(scope: Construct, id: string, config: InfraConfig, lake: LakeStorageRef, props?: StackProps) {
    super(scope, id, props);
    this.vpc = this.networking(config);
    this.stream = new EventStream(this, 'Events', {
      streamName: `${config.prefix}-events`,
      retentionHours: config.kinesisRetentionHours,
      msk: config.msk,
    });
    if (this.stream.kinesisStream !== undefined) {
      this.shardLeases = new ShardLeases(this, 'ShardLeases', {
        tableName: `${config.prefix}-kinesis-leases`,
        stateBucketName: lake.bucketName,
        statePrefix: lake.statePrefix,
        ownershipTimeoutSeconds: config.processorOwnershipTimeoutSeconds,
      });
    }
    this.timeSeries = new TimeSeriesStore(this, 'TimeSeries', { config, vpc: this.vpc });
    this.sourceLag =
      this.stream.iteratorAge() ??
      new PipelineMetrics(config.namespace).pipelineWide(PIPELINE_HEALTH_METRICS.consumerLagMs);
    this.processor = new ProcessorService(this, 'Processor', {
      config,
      vpc: this.vpc,
      stream: this.stream,
      shardLeases: this.shardLeases,
      lake,
      timeSeries: this.timeSeries,
      lagMetric: this.sourceLag,
    });

    if (this.stream.kinesisStream !== undefined) {
      new CfnOutput(this, 'StreamName', { value: this.stream.kinesisStream.streamName });
    }
    new CfnOutput(this, 'ProcessorSecurityGroup', {
      value: this.processor.service.connections.securityGroups
        .map((group) => group.securityGroupId)
        .join(','),
      description: 'allow this group on the MSK cluster or other sources the processor must reach',
    });
    if (this.shardLeases !== undefined) {
      new CfnOutput(this, 'ShardLeaseTable', { value: this.shardLeases.table.tableName });
    }
    new CfnOutput(this, 'ProcessorLogGroup', { value: this.processor.logGroup.logGroupName });
    if (this.timeSeries.influx !== undefined) {
      new CfnOutput(this, 'InfluxUrl', { value: this.timeSeries.influx.url });
      new CfnOutput(this, 'InfluxAdminSecret', { value: this.timeSeries.influx.adminSecret.secretArn });
    }
  }

  private networking(config: InfraConfig): ec2.IVpc {
    if (config.existingVpc !== undefined) {
      return ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: config.existingVpc.vpcId,
        availabilityZones: config.existingVpc.availabilityZones,
        privateSubnetIds: config.existingVpc.privateSubnetIds,
      });
    }
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      ],
    });
    // S3 traffic stays off the NAT gateway (and its per-GB charge).
    vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    return vpc;
  }
}
