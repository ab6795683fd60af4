import { createServer } from 'node:net';
import {
  CloudWatchServiceException,
  InternalServiceFault,
  InvalidParameterValueException,
} from '@aws-sdk/client-cloudwatch';
import { describe, expect, it } from 'vitest';
import { SdkCloudWatchClient, toSinkError } from '../../src/cloudwatch/client.js';
import { SinkRequestError } from '../../src/util/retriable.js';

const metadata = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

describe('toSinkError', () => {
  it('marks invalid requests as not retriable, naming the error', () => {
    const error = toSinkError(
      new InvalidParameterValueException({
        message: 'The value NaN for parameter Value is invalid.',
        ...metadata(400),
      }),
    );
    expect(error).toBeInstanceOf(SinkRequestError);
    expect(error.retriable).toBe(false);
    expect(error.message).toMatch(
      /InvalidParameterValueException \(HTTP 400\): The value NaN .* \(not retriable\)/,
    );
  });

  it('marks throttling, server faults and network failures as retriable', () => {
    const throttling = new CloudWatchServiceException({
      name: 'Throttling',
      $fault: 'client',
      message: 'Rate exceeded',
      ...metadata(400),
    });
    expect(toSinkError(throttling).retriable).toBe(true);
    expect(toSinkError(new InternalServiceFault({ message: 'boom', ...metadata(500) })).retriable).toBe(true);
    expect(toSinkError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })).retriable).toBe(
      true,
    );
  });
});

describe('SdkCloudWatchClient', () => {
  it('reports an unreachable endpoint as a retriable SinkRequestError', async () => {
    // A port that was just free: nothing listens there.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const client = new SdkCloudWatchClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const error = await client
      .putMetricData('NS', [{ MetricName: 'Requests', Value: 1, Timestamp: new Date() }])
      .then(
        () => null,
        (e: unknown) => e,
      );
    client.destroy();
    expect(error).toBeInstanceOf(SinkRequestError);
    expect((error as SinkRequestError).retriable).toBe(true);
  });
});
