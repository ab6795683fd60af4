/**
 * The transport the processor consumes: an on-demand, KMS-encrypted Kinesis stream, or, when
 * `mskClusterArn` is given, an existing MSK cluster (no stream is created then).
 */
import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { Construct } from 'constructs';
import type { MskSettings } from '../config.js';

export interface EventStreamProps {
  streamName: string;
  retentionHours: number;
  msk?: MskSettings;
}

export class EventStream extends Construct {
  readonly kinesisStream?: kinesis.Stream;
  readonly msk?: MskSettings;

  constructor(scope: Construct, id: string, props: EventStreamProps) {
    super(scope, id);
    this.msk = props.msk;
    if (props.msk === undefined) {
      this.kinesisStream = new kinesis.Stream(this, 'Stream', {
        streamName: props.streamName,
        streamMode: kinesis.StreamMode.ON_DEMAND,
        // The AWS-managed key (alias/aws/kinesis): producers need no KMS grant to put records.
        encryption: kinesis.StreamEncryption.MANAGED,
        retentionPeriod: Duration.hours(props.retentionHours),
      });
    }
  }

  /** Age of the oldest unread record (what the processor's autoscaling and lag widgets use). */
  iteratorAge(): cloudwatch.Metric | undefined {
    return this.kinesisStream?.metricGetRecordsIteratorAgeMilliseconds({
      statistic: 'Maximum',
      period: Duration.minutes(1),
    });
  }

  /** The processor's source settings, as `GENAI_PIPELINE_*` environment variables. */
  sourceEnvironment(): Record<string, string> {
    if (this.msk !== undefined) {
      return {
        GENAI_PIPELINE_SOURCE: 'kafka',
        GENAI_PIPELINE_KAFKA_BROKERS: this.msk.bootstrapBrokers,
        GENAI_PIPELINE_KAFKA_TOPIC: this.msk.topic,
        GENAI_PIPELINE_KAFKA_GROUP: this.msk.consumerGroup,
      };
    }
    const stream = this.kinesisStream as kinesis.Stream;
    return { GENAI_PIPELINE_SOURCE: 'kinesis', GENAI_PIPELINE_KINESIS_STREAM: stream.streamName };
  }
}
