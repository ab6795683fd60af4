import { describe, expect, it } from 'vitest';
import { isRetriableError, OperationalError } from '../src/retriable.js';

describe('isRetriableError', () => {
  it.each([
    [Object.assign(new Error('x'), { retriable: false, name: 'KafkaJSNonRetriableError' }), false],
    [Object.assign(new Error('x'), { retriable: true, name: 'ThrottlingException' }), true],
    [{ name: 'ThrottlingException', retriable: false }, false],
    [{ name: 'KafkaJSNumberOfRetriesExceeded', retriable: false, cause: { retriable: true } }, true],
    [{ name: 'KafkaJSNumberOfRetriesExceeded', retriable: false, cause: { retriable: false } }, false],
    [{ name: 'ProvisionedThroughputExceededException' }, true],
    [{ name: 'SlowDown' }, true],
    [{ name: 'KMSThrottlingException' }, true],
    [{ name: 'TimeoutError' }, true],
    [{ name: 'ValidationException', $metadata: { httpStatusCode: 400 } }, false],
    [{ name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }, false],
    [{ name: 'Whatever', $metadata: { httpStatusCode: 503 } }, true],
    [{ name: 'Whatever', $metadata: { httpStatusCode: 429 } }, true],
    [{ code: 'ECONNRESET' }, true],
    [{ code: 'ENETDOWN' }, true],
    [{ code: 'ENOENT' }, false],
    [{ $retryable: {} }, true],
    [new Error('bug'), false],
    [null, false],
    ['boom', false],
  ])('%o -> %s', (error, expected) => {
    expect(isRetriableError(error)).toBe(expected);
  });
});

describe('OperationalError', () => {
  it('says in its message whether it is retriable, and takes the name of the subclass', () => {
    class StoreError extends OperationalError {}
    const cause = new Error('socket hang up');
    const error = new StoreError('writing failed', true, { cause });
    expect(error).toBeInstanceOf(OperationalError);
    expect([error.name, error.message, error.retriable, error.cause]).toEqual([
      'StoreError',
      'writing failed (retriable)',
      true,
      cause,
    ]);
    expect(new StoreError('bad name', false).message).toBe('bad name (not retriable)');
  });
});
