import { describe, expect, it } from 'vitest';
import { errorOutcome, fromError } from '../../src/helpers/errors.js';

const awsError = (name: string, status: number) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe('errorOutcome', () => {
  it.each([
    [awsError('ThrottlingException', 429), 'THROTTLED', 'ThrottlingException'],
    [
      Object.assign(new Error('Rate limit'), { status: 429, code: 'rate_limit_exceeded' }),
      'THROTTLED',
      'rate_limit_exceeded',
    ],
    [
      Object.assign(new Error('429'), {
        status: 429,
        error: { type: 'error', error: { type: 'rate_limit_error' } },
      }),
      'THROTTLED',
      'rate_limit_error',
    ],
    [awsError('ModelTimeoutException', 408), 'TIMEOUT', 'ModelTimeoutException'],
    [new DOMException('The operation was aborted', 'AbortError'), 'TIMEOUT', 'AbortError'],
    [new DOMException('The operation timed out', 'TimeoutError'), 'TIMEOUT', 'TimeoutError'],
    [Object.assign(new Error('socket'), { code: 'ETIMEDOUT' }), 'TIMEOUT', 'ETIMEDOUT'],
    [
      Object.assign(new Error('filtered'), { status: 400, code: 'content_filter' }),
      'FILTERED',
      'content_filter',
    ],
    [awsError('ValidationException', 400), 'ERROR', 'ValidationException'],
    [Object.assign(new Error('x'), { status: 500 }), 'ERROR', 'http_500'],
  ])('%s -> %s (%s)', (error, status, code) => {
    expect(errorOutcome(error)).toMatchObject({
      status,
      error_code: code,
      input_tokens: 0,
      output_tokens: 0,
    });
  });

  it('never throws on odd errors', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    );
    expect(errorOutcome(hostile)).toMatchObject({ status: 'ERROR' });
    expect(errorOutcome(null)).toMatchObject({ status: 'ERROR' });
    expect(errorOutcome('a string')).toMatchObject({ status: 'ERROR' });
  });

  it('fromError builds a full event', () => {
    const event = fromError(
      awsError('ThrottlingException', 429),
      { service: 's', model_id: 'm', provider: 'aws.bedrock' },
      { latency_ms: 20 },
    );
    expect(event).toMatchObject({
      status: 'THROTTLED',
      error_code: 'ThrottlingException',
      provider: 'aws.bedrock',
      latency_ms: 20,
    });
  });
});
