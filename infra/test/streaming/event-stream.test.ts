import { beforeAll, describe, expect, it } from 'vitest';
import { type Synthesized, synth } from '../support/synth.js';

const MSK = {
  mskClusterArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/events/0b1c2d3e-1111-2222-3333-444455556666-2',
  mskBootstrapBrokers: 'b-1.events.kafka.eu-west-1.amazonaws.com:9098',
};

let kinesis: Synthesized;
beforeAll(() => {
  kinesis = synth();
});

describe('event stream', () => {
  it('is an on-demand Kinesis stream encrypted with KMS', () => {
    kinesis.pipelineTemplate.hasResourceProperties('AWS::Kinesis::Stream', {
      Name: 'genai-pipeline-events',
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
      RetentionPeriodHours: 24,
    });
  });

  it('hands the stream name to the processor', () => {
    expect(kinesis.pipeline.stream.sourceEnvironment()).toEqual({
      GENAI_PIPELINE_SOURCE: 'kinesis',
      GENAI_PIPELINE_KINESIS_STREAM: kinesis.pipeline.stream.kinesisStream?.streamName,
    });
  });

  it('creates no stream and passes the MSK settings when an MSK cluster is given', () => {
    const msk = synth(MSK);
    msk.pipelineTemplate.resourceCountIs('AWS::Kinesis::Stream', 0);
    expect(msk.pipeline.stream.iteratorAge()).toBeUndefined();
    expect(msk.pipeline.stream.sourceEnvironment()).toEqual({
      GENAI_PIPELINE_SOURCE: 'kafka',
      GENAI_PIPELINE_KAFKA_BROKERS: MSK.mskBootstrapBrokers,
      GENAI_PIPELINE_KAFKA_TOPIC: 'genai-events',
      GENAI_PIPELINE_KAFKA_GROUP: 'genai-pipeline',
    });
  });
});
