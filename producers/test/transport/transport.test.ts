import { describe, expect, it } from 'vitest';
import { describeError, isRetriable, TransportError } from '../../src/transport/transport.js';

// The classification itself is tested in schemas (test/retriable.test.ts); here, what the transports add.
describe('isRetriable', () => {
  it.each([
    [new TransportError('x', true), true],
    [new TransportError('x', false), false],
    [
      { name: 'KafkaJSNumberOfRetriesExceeded', retriable: false, cause: new TransportError('x', true) },
      true,
    ],
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
