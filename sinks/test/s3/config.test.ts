import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { describe, expect, it } from 'vitest';
import {
  assertBucketName,
  formatS3Location,
  parseS3LakeConfig,
  parseS3Uri,
  S3_LIMITS,
  s3ClientConfig,
} from '../../src/s3/config.js';

describe('parseS3Uri', () => {
  it('splits bucket and prefix and normalises slashes', () => {
    expect(parseS3Uri('s3://my-lake/prod/genai')).toEqual({ bucket: 'my-lake', prefix: 'prod/genai' });
    expect(parseS3Uri('s3://my-lake/prod/genai/')).toEqual({ bucket: 'my-lake', prefix: 'prod/genai' });
    expect(parseS3Uri('s3://my-lake//prod///genai//')).toEqual({ bucket: 'my-lake', prefix: 'prod/genai' });
    expect(parseS3Uri('s3://my-lake')).toEqual({ bucket: 'my-lake', prefix: '' });
    expect(parseS3Uri('s3://my-lake/')).toEqual({ bucket: 'my-lake', prefix: '' });
    expect(parseS3Uri('s3://a.b-c.123/x')).toEqual({ bucket: 'a.b-c.123', prefix: 'x' });
  });

  it('rejects what is not an s3:// URI', () => {
    for (const uri of [
      'my-lake/prefix',
      'S3://my-lake/x',
      'https://my-lake/x',
      's3:/my-lake',
      's3://my-lake/x?versionId=1',
    ]) {
      expect(() => parseS3Uri(uri), uri).toThrow(/must look like s3:\/\/bucket\/prefix/);
    }
  });

  it('rejects . and .. prefix segments', () => {
    expect(() => parseS3Uri('s3://my-lake/a/../b')).toThrow(/must not hold "\." or "\.\." segments/);
    expect(() => parseS3Uri('s3://my-lake/./b')).toThrow(/segments/);
  });

  it('formats a location back into a URL', () => {
    expect(formatS3Location(parseS3Uri('s3://my-lake//a/b/'))).toBe('s3://my-lake/a/b/');
    expect(formatS3Location(parseS3Uri('s3://my-lake'))).toBe('s3://my-lake/');
  });
});

describe('assertBucketName', () => {
  it.each([
    ['ab', /3 to 63 characters/],
    ['a'.repeat(64), /3 to 63 characters/],
    ['My-Lake', /lowercase letters, digits, dots and hyphens/],
    ['my_lake', /lowercase letters/],
    ['-lake', /begin and end with a letter or digit/],
    ['lake.', /begin and end/],
    ['my..lake', /two adjacent dots/],
    ['192.168.5.4', /IP address/],
    ['xn--lake', /must not start with xn--/],
    ['sthree-lake', /must not start/],
    ['lake-s3alias', /reserved suffixes/],
    ['lake--ol-s3', /reserved suffixes/],
    ['lake--x-s3', /reserved suffixes/],
  ])('rejects %s', (name, rule) => {
    expect(() => assertBucketName(name)).toThrow(rule);
    expect(() => parseS3Uri(`s3://${name}/p`)).toThrow(rule);
  });

  it('accepts valid names', () => {
    for (const name of ['abc', 'a'.repeat(63), 'my-lake.2025', '1lake9'])
      expect(() => assertBucketName(name)).not.toThrow();
  });
});

describe('parseS3LakeConfig', () => {
  it('fills defaults and leaves region, endpoint and checksums to the SDK chain', () => {
    const config = parseS3LakeConfig({ uri: 's3://my-lake/lake/' });
    expect(config).toEqual({
      uri: { bucket: 'my-lake', prefix: 'lake' },
      forcePathStyle: false,
      partSizeBytes: 8 * 1024 * 1024,
      partConcurrency: 4,
      socketTimeoutMs: 60_000,
      connectTimeoutMs: 10_000,
      resilience: {},
    });
  });

  it('names each bad field in one line', () => {
    expect(() =>
      parseS3LakeConfig({
        uri: 's3://My_Lake/x',
        partSizeBytes: 1024,
        endpoint: 'not a url',
        checksums: 'never' as never,
      }),
    ).toThrow(
      /^invalid S3 lake config: uri: S3 bucket name "My_Lake" may hold only .*; endpoint: .*; checksums: .*; partSizeBytes: .*5242880/,
    );
  });

  it('rejects parts above S3 maximum', () => {
    expect(() =>
      parseS3LakeConfig({ uri: 's3://my-lake', partSizeBytes: S3_LIMITS.maxPartBytes + 1 }),
    ).toThrow(/partSizeBytes/);
  });
});

describe('s3ClientConfig', () => {
  it('builds a client with path style, WHEN_REQUIRED checksums, no SDK retries and the HTTP/1.1 handler', async () => {
    const config = parseS3LakeConfig({
      uri: 's3://my-lake/x',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
      checksums: 'when-required',
    });
    const options = s3ClientConfig(config);
    expect(options.requestHandler).toBeInstanceOf(NodeHttpHandler);
    const client = new S3Client(options);
    try {
      expect(client.config.forcePathStyle).toBe(true);
      expect(await client.config.region()).toBe('eu-west-1');
      expect(await client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
      expect(await client.config.maxAttempts()).toBe(1);
    } finally {
      client.destroy();
    }
  });

  it('leaves the checksum mode to the SDK (WHEN_SUPPORTED) and the endpoint to its chain when unset', async () => {
    const options = s3ClientConfig(parseS3LakeConfig({ uri: 's3://my-lake/x', region: 'us-east-1' }));
    expect(options).not.toHaveProperty('endpoint');
    expect(options).not.toHaveProperty('requestChecksumCalculation');
    const client = new S3Client(options);
    try {
      expect(await client.config.requestChecksumCalculation()).toBe('WHEN_SUPPORTED');
    } finally {
      client.destroy();
    }
  });
});
