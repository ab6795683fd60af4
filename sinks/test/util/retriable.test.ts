import { BrokenCircuitError } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { isRetriable, SinkRequestError } from '../../src/util/retriable.js';

const awsError = (name: string, status: number, extra: object = {}) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, ...extra });

describe('isRetriable', () => {
  it.each([
    ['an explicit retriable flag', new SinkRequestError('x', true), true],
    ['an explicit non-retriable flag', new SinkRequestError('x', false), false],
    ['CloudWatch throttling', awsError('Throttling', 400), true],
    ['Timestream throttling', awsError('ThrottlingException', 429), true],
    ['any 5xx', awsError('Whatever', 503), true],
    ['an SDK-marked retryable error', awsError('Odd', 400, { $retryable: {} }), true],
    ['a validation error', awsError('InvalidParameterValue', 400), false],
    ['an auth error', awsError('AccessDeniedException', 403), false],
    ['a connection reset', Object.assign(new Error('reset'), { code: 'ECONNRESET' }), true],
    ['an open circuit', new BrokenCircuitError(), true],
    ['a plain error', new Error('bug'), false],
    ['a non-error', 'nope', false],
  ])('%s', (_what, error, expected) => {
    expect(isRetriable(error)).toBe(expected);
  });

  it('says in the message whether the error is retriable', () => {
    expect(new SinkRequestError('rejected', false).message).toBe('rejected (not retriable)');
  });
});
