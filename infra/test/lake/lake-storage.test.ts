import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { resourcesOf, type Synthesized, synth } from '../support/synth.js';

let synthesized: Synthesized;
beforeAll(() => {
  synthesized = synth();
});

describe('lake storage', () => {
  it('encrypts both buckets with the customer-managed, rotating lake key', () => {
    const template = synthesized.lakeTemplate;
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const keyId = Object.keys(resourcesOf(template, 'AWS::KMS::Key'))[0] as string;
    const buckets = resourcesOf(template, 'AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(2);
    for (const bucket of Object.values(buckets)) {
      expect(bucket.Properties.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] },
            },
          },
        ],
      });
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
    }
  });

  it('denies every request without TLS on both buckets', () => {
    const policies = resourcesOf(synthesized.lakeTemplate, 'AWS::S3::BucketPolicy');
    expect(Object.keys(policies)).toHaveLength(2);
    for (const policy of Object.values(policies)) {
      expect(policy.Properties.PolicyDocument).toMatchObject({
        Statement: expect.arrayContaining([
          expect.objectContaining({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      });
    }
  });

  it('tiers the lake prefix to infrequent access, then Glacier Instant Retrieval', () => {
    synthesized.lakeTemplate.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Prefix: 'lake/',
            Status: 'Enabled',
            Transitions: [
              { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
              { StorageClass: 'GLACIER_IR', TransitionInDays: 180 },
            ],
          }),
        ]),
      },
    });
  });

  it('keeps processor state beside the lake prefix, out of every prefixed lifecycle rule', () => {
    const { statePrefix } = synthesized.lake.storage.ref();
    expect(statePrefix).toBe('lake-state');
    const prefixes = Object.values(resourcesOf(synthesized.lakeTemplate, 'AWS::S3::Bucket')).flatMap(
      (bucket) =>
        ((bucket.Properties.LifecycleConfiguration as { Rules: { Prefix?: string }[] }).Rules ?? []).flatMap(
          (rule) => (rule.Prefix === undefined ? [] : [rule.Prefix]),
        ),
    );
    expect(prefixes).toContain('lake/');
    for (const prefix of prefixes) expect(`${statePrefix}/shards/`.startsWith(prefix)).toBe(false);
  });

  it('expires Athena results after the configured days', () => {
    synthesized.lakeTemplate.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Id: 'expire-results', ExpirationInDays: 30 })]),
      },
    });
  });
});
