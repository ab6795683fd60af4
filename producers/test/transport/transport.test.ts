import { describe, expect, it } from 'vitest';
import { describeError, isRetriable, TransportError } from '../../src/transport/transport.js';

describe('isRetriable', () => {
  it.each([
    [new TransportError('x', true), true],
    [new TransportError('x', false), false],
    [Object.assign(new Error('x'), { retriable: false, name: 'KafkaJSNonRetriableError' }), false],
    [{ name: 'KafkaJSNumberOfRetriesExceeded', retriable: false, cause: { retriable: true } }, true],
    [{ name: 'KafkaJSNumberOfRetriesExceeded', retriable: false, cause: { retriable: false } }, false],
    [{ name: 'ProvisionedThroughputExceededException' }, true],
    [{ name: 'ValidationException', $metadata: { httpStatusCode: 400 } }, false],
    [{ name: 'Whatever', $metadata: { httpStatusCode: 503 } }, true],
    [{ code: 'ECONNRESET' }, true],
    [{ $retryable: {} }, true],
    [null, false],
    ['boom', false],
  ])('%o -> %s', (error, expected) => {
    expect(isRetriable(error)).toBe(expected);
  });

  it('TransportError messages say whether they are retriable', () => {
    expect(new TransportError('HTTP 503', true).message).toBe('HTTP 503 (retriable)');
    expect(describeError(new TransportError('HTTP 403', false))).toBe(
      'TransportError: HTTP 403 (not retriable)',
    );
  });
});
