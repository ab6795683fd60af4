import { describe, expect, it } from 'vitest';
import {
  describeValue,
  EVENT_FIELDS,
  MAX_EVENT_TIME_AHEAD_MS,
  validateEvent,
  validateInvocation,
  validateScore,
} from '../src/validate.js';
import { fullInvocation, fullScore, minimalInvocationInput, minimalScoreInput, NOW } from './fixtures.js';

const invocationError = (input: unknown): string => {
  const result = validateInvocation(input, NOW);
  if (result.ok) throw new Error(`expected an invalid invocation, got ${JSON.stringify(result.value)}`);
  return result.error;
};

const scoreError = (input: unknown): string => {
  const result = validateScore(input, NOW);
  if (result.ok) throw new Error(`expected an invalid score, got ${JSON.stringify(result.value)}`);
  return result.error;
};

const withField = (name: string, value: unknown): Record<string, unknown> => ({
  ...minimalInvocationInput(),
  [name]: value,
});

const withoutField = (name: string): Record<string, unknown> => {
  const input = minimalInvocationInput();
  delete input[name];
  return input;
};

const INVOCATION_REQUIRED = Object.keys(minimalInvocationInput());
const INVOCATION_OPTIONAL_STRINGS = [
  'error_code',
  'finish_reason',
  'tenant_id',
  'user_id',
  'session_id',
  'agent_id',
  'environment',
  'region',
  'trace_id',
  'span_id',
];

describe('validateInvocation: valid events', () => {
  it('accepts a complete event and returns it normalised', () => {
    const event = fullInvocation();
    expect(validateInvocation({ ...event }, NOW)).toEqual({ ok: true, value: event });
  });

  it('fills absent optional fields: strings, ttft and cost null, cache token counts 0', () => {
    const result = validateInvocation(minimalInvocationInput(), NOW);
    expect(result).toEqual({
      ok: true,
      value: {
        ...minimalInvocationInput(),
        cache_read_input_tokens: 0,
        cache_write_input_tokens: 0,
        ttft_ms: null,
        error_code: null,
        finish_reason: null,
        tenant_id: null,
        user_id: null,
        session_id: null,
        agent_id: null,
        environment: null,
        region: null,
        trace_id: null,
        span_id: null,
        cost_usd: null,
      },
    });
  });

  it('returns exactly the schema fields, in schema order, in a fresh object', () => {
    const input = { ...fullInvocation(), prompt: 'secret text', kind: 'invocation', extra: { a: 1 } };
    const result = validateInvocation(input, NOW);
    expect(result.ok && Object.keys(result.value)).toEqual(EVENT_FIELDS.invocation);
    expect(result.ok && result.value).not.toBe(input);
    expect(input.prompt).toBe('secret text'); // the input is not modified
  });

  it.each(INVOCATION_OPTIONAL_STRINGS)('treats %s given as null or "" as absent', (name) => {
    for (const absent of [null, '', undefined]) {
      const result = validateInvocation(withField(name, absent), NOW);
      expect(result.ok && result.value[name as 'tenant_id']).toBeNull();
    }
  });

  it.each(['ttft_ms', 'cost_usd'])('treats %s given as null or "" as absent (null)', (name) => {
    for (const absent of [null, '']) {
      const result = validateInvocation(withField(name, absent), NOW);
      expect(result.ok && result.value[name as 'ttft_ms']).toBeNull();
    }
  });

  it.each(['cache_read_input_tokens', 'cache_write_input_tokens'])(
    'treats %s given as null or "" as absent (0)',
    (name) => {
      for (const absent of [null, '']) {
        const result = validateInvocation(withField(name, absent), NOW);
        expect(result.ok && result.value[name as 'cache_read_input_tokens']).toBe(0);
      }
    },
  );

  it('accepts every status', () => {
    for (const status of ['OK', 'ERROR', 'THROTTLED', 'TIMEOUT', 'FILTERED']) {
      expect(validateInvocation(withField('status', status), NOW).ok).toBe(true);
    }
  });

  it('accepts zeros for tokens, latency, ttft and cost', () => {
    const input = {
      ...minimalInvocationInput(),
      input_tokens: 0,
      output_tokens: 0,
      latency_ms: 0,
      ttft_ms: 0,
      cost_usd: 0,
    };
    expect(validateInvocation(input, NOW).ok).toBe(true);
  });

  it('turns -0 into 0', () => {
    const input = { ...minimalInvocationInput(), input_tokens: -0, latency_ms: -0, cost_usd: -0 };
    const result = validateInvocation(input, NOW);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(Object.is(result.value.input_tokens, 0)).toBe(true);
    expect(Object.is(result.value.latency_ms, 0)).toBe(true);
    expect(Object.is(result.value.cost_usd, 0)).toBe(true);
  });

  it('accepts cache tokens adding up to exactly input_tokens', () => {
    const input = {
      ...minimalInvocationInput(),
      input_tokens: 100,
      cache_read_input_tokens: 60,
      cache_write_input_tokens: 40,
    };
    expect(validateInvocation(input, NOW).ok).toBe(true);
  });

  it('accepts an event_time exactly 1 hour after the clock, and any past time', () => {
    expect(validateInvocation(withField('event_time', NOW + MAX_EVENT_TIME_AHEAD_MS), NOW).ok).toBe(true);
    expect(validateInvocation(withField('event_time', 0), NOW).ok).toBe(true);
    expect(validateInvocation(withField('event_time', NOW - 365 * 86_400_000), NOW).ok).toBe(true);
  });

  it('accepts an event_id of 128 characters and whitespace-only strings (not empty)', () => {
    expect(validateInvocation(withField('event_id', 'x'.repeat(128)), NOW).ok).toBe(true);
    expect(validateInvocation(withField('service', ' '), NOW).ok).toBe(true);
  });

  it('accepts token counts up to 2^53-1', () => {
    expect(validateInvocation(withField('output_tokens', Number.MAX_SAFE_INTEGER), NOW).ok).toBe(true);
  });
});

describe('validateInvocation: invalid events', () => {
  it.each([
    [null, 'null'],
    [[minimalInvocationInput()], 'an array'],
    ['{"event_id":"x"}', '"{\\"event_id\\":\\"x\\"}"'],
    [42, '42'],
    [undefined, 'undefined'],
    [true, 'true'],
  ])('rejects %j: not an object', (input, got) => {
    expect(invocationError(input)).toBe(`event must be a JSON object (got ${got})`);
  });

  it.each(INVOCATION_REQUIRED)('rejects a missing or null %s', (name) => {
    expect(invocationError(withoutField(name))).toBe(`${name}: required field is missing`);
    expect(invocationError(withField(name, null))).toBe(`${name}: required field is null`);
  });

  it.each(['event_id', 'service', 'provider', 'model_id', 'operation'])(
    'rejects an empty or non-string %s',
    (name) => {
      expect(invocationError(withField(name, ''))).toBe(`${name}: must be a non-empty string (got "")`);
      expect(invocationError(withField(name, 7))).toBe(`${name}: must be a non-empty string (got 7)`);
    },
  );

  it('rejects an event_id longer than 128 characters', () => {
    expect(invocationError(withField('event_id', 'x'.repeat(129)))).toBe(
      'event_id: must be at most 128 characters (got 129)',
    );
  });

  it('counts event_id characters as code points: 128 emoji are 128 characters', () => {
    expect(validateInvocation(withField('event_id', '😀'.repeat(128)), NOW).ok).toBe(true);
    expect(invocationError(withField('event_id', '😀'.repeat(129)))).toBe(
      'event_id: must be at most 128 characters (got 129)',
    );
  });

  it('accepts event times before 1970 but not beyond the dates a timestamp can hold', () => {
    expect(validateInvocation(withField('event_time', -1), NOW).ok).toBe(true);
    expect(validateInvocation(withField('event_time', -8.64e15), NOW).ok).toBe(true);
    expect(invocationError(withField('event_time', -8.64e15 - 1))).toBe(
      'event_time: -8640000000000001 is outside the dates a timestamp can hold (±8640000000000000 ms)',
    );
  });

  it('rejects numbers given as strings, with the contract example message', () => {
    expect(invocationError(withField('input_tokens', '12'))).toBe(
      'input_tokens: must be an integer >= 0 (got "12")',
    );
    expect(invocationError(withField('latency_ms', '100'))).toBe(
      'latency_ms: must be a finite number >= 0 (got "100")',
    );
    expect(invocationError(withField('cost_usd', '0.1'))).toBe(
      'cost_usd: must be a finite number >= 0 (got "0.1")',
    );
  });

  it.each([
    ['input_tokens', 12.5],
    ['output_tokens', 0.1],
    ['cache_read_input_tokens', 1.5],
    ['cache_write_input_tokens', 2.25],
  ])('rejects a fractional %s', (name, value) => {
    expect(invocationError(withField(name, value))).toBe(`${name}: must be an integer >= 0 (got ${value})`);
  });

  it.each([
    ['input_tokens', -1],
    ['output_tokens', -5],
    ['cache_read_input_tokens', -1],
    ['cache_write_input_tokens', -2],
  ])('rejects a negative %s', (name, value) => {
    expect(invocationError(withField(name, value))).toBe(`${name}: must be an integer >= 0 (got ${value})`);
  });

  it.each([
    ['latency_ms', -0.5],
    ['ttft_ms', -1],
    ['cost_usd', -0.01],
  ])('rejects a negative %s', (name, value) => {
    expect(invocationError(withField(name, value))).toBe(
      `${name}: must be a finite number >= 0 (got ${value})`,
    );
  });

  it.each([
    ['latency_ms', Number.POSITIVE_INFINITY, 'Infinity'],
    ['latency_ms', Number.NaN, 'NaN'],
    ['ttft_ms', Number.NaN, 'NaN'],
    ['cost_usd', Number.POSITIVE_INFINITY, 'Infinity'],
    ['input_tokens', Number.POSITIVE_INFINITY, 'Infinity'],
    ['input_tokens', Number.NaN, 'NaN'],
  ])('rejects a non-finite %s (%s)', (name, value, got) => {
    expect(invocationError(withField(name, value))).toMatch(
      new RegExp(`^${name}: must be .* \\(got ${got}\\)$`),
    );
  });

  it('rejects token counts that are not exact as JS numbers (above 2^53-1)', () => {
    expect(invocationError(withField('input_tokens', 2 ** 53))).toBe(
      `input_tokens: must be an integer >= 0 and <= 9007199254740991 (got ${2 ** 53})`,
    );
  });

  it.each([
    [true, 'true'],
    [false, 'false'],
    [{ value: 1 }, 'an object'],
    [[1], 'an array'],
    [10n, '10n'],
  ])('rejects a token count given as %s', (value, got) => {
    expect(invocationError(withField('input_tokens', value))).toBe(
      `input_tokens: must be an integer >= 0 (got ${got})`,
    );
  });

  it('rejects booleans where strings are expected', () => {
    expect(invocationError(withField('tenant_id', true))).toBe(
      'tenant_id: must be a string or null (got true)',
    );
    expect(invocationError(withField('model_id', false))).toBe(
      'model_id: must be a non-empty string (got false)',
    );
  });

  it.each(INVOCATION_OPTIONAL_STRINGS)('rejects a non-string %s', (name) => {
    expect(invocationError(withField(name, 5))).toBe(`${name}: must be a string or null (got 5)`);
  });

  it.each([
    ['2023-11-14T22:13:20Z', '"2023-11-14T22:13:20Z"'],
    ['1700000000000', '"1700000000000"'],
    [1_700_000_000_000.5, '1700000000000.5'],
    [Number.NaN, 'NaN'],
  ])('rejects event_time given as %j', (value, got) => {
    expect(invocationError(withField('event_time', value))).toBe(
      `event_time: must be an integer number of epoch milliseconds (got ${got}; ISO strings are not accepted)`,
    );
  });

  it('rejects an event_time more than 1 hour after the processing clock', () => {
    expect(invocationError(withField('event_time', NOW + MAX_EVENT_TIME_AHEAD_MS + 1))).toBe(
      'event_time: 1700003600001 is more than 1 hour after the processing clock',
    );
  });

  it.each([
    ['oops', '"oops"'],
    ['ok', '"ok"'],
    ['', '""'],
    [0, '0'],
  ])('rejects status %j', (value, got) => {
    expect(invocationError(withField('status', value))).toBe(
      `status: must be one of OK, ERROR, THROTTLED, TIMEOUT, FILTERED (got ${got})`,
    );
  });

  it('rejects cache tokens adding up to more than input_tokens', () => {
    const input = {
      ...minimalInvocationInput(),
      input_tokens: 100,
      cache_read_input_tokens: 800,
      cache_write_input_tokens: 100,
    };
    expect(invocationError(input)).toBe(
      'cache_read_input_tokens + cache_write_input_tokens (900) must not exceed input_tokens (100)',
    );
    expect(
      invocationError({ ...minimalInvocationInput(), input_tokens: 0, cache_write_input_tokens: 1 }),
    ).toBe('cache_read_input_tokens + cache_write_input_tokens (1) must not exceed input_tokens (0)');
  });

  it('reports every invalid field, and the cache rule only once the fields are valid', () => {
    const input = { ...minimalInvocationInput(), service: '', input_tokens: '5', cache_read_input_tokens: 9 };
    expect(invocationError(input)).toBe(
      'service: must be a non-empty string (got ""); input_tokens: must be an integer >= 0 (got "5")',
    );
  });

  it('keeps excerpts of long values short', () => {
    const error = invocationError(withField('status', 'x'.repeat(10_000)));
    expect(error).toBe(
      `status: must be one of OK, ERROR, THROTTLED, TIMEOUT, FILTERED (got "${'x'.repeat(40)}...")`,
    );
  });
});

describe('validateScore', () => {
  it('accepts a complete score event', () => {
    const event = fullScore();
    expect(validateScore({ ...event, unknown_field: 1 }, NOW)).toEqual({ ok: true, value: event });
  });

  it('fills absent optional fields with null and keeps schema order', () => {
    const result = validateScore({ ...minimalScoreInput(), source: '', tenant_id: null }, NOW);
    expect(result).toEqual({
      ok: true,
      value: { ...minimalScoreInput(), invocation_id: null, tenant_id: null, source: null },
    });
    expect(result.ok && Object.keys(result.value)).toEqual(EVENT_FIELDS.score);
  });

  it.each([-1, 0, 0.5, 5, -1e9, 1e300])('accepts any finite value (%s)', (value) => {
    expect(validateScore({ ...minimalScoreInput(), value }, NOW).ok).toBe(true);
  });

  it.each([
    [Number.NaN, 'NaN'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
    ['0.5', '"0.5"'],
    [true, 'true'],
  ])('rejects value %s', (value, got) => {
    expect(scoreError({ ...minimalScoreInput(), value })).toBe(`value: must be a finite number (got ${got})`);
  });

  it.each(Object.keys(minimalScoreInput()))('rejects a missing or null %s', (name) => {
    const input = minimalScoreInput();
    delete input[name];
    expect(scoreError(input)).toBe(`${name}: required field is missing`);
    expect(scoreError({ ...minimalScoreInput(), [name]: null })).toBe(`${name}: required field is null`);
  });

  it('applies the shared event_id and event_time rules', () => {
    expect(scoreError({ ...minimalScoreInput(), event_id: 'y'.repeat(129) })).toBe(
      'event_id: must be at most 128 characters (got 129)',
    );
    expect(scoreError({ ...minimalScoreInput(), event_time: NOW + MAX_EVENT_TIME_AHEAD_MS + 1 })).toBe(
      'event_time: 1700003600001 is more than 1 hour after the processing clock',
    );
  });

  it('rejects an empty name and a non-string invocation_id', () => {
    expect(scoreError({ ...minimalScoreInput(), name: '' })).toBe(
      'name: must be a non-empty string (got "")',
    );
    expect(scoreError({ ...minimalScoreInput(), invocation_id: 12 })).toBe(
      'invocation_id: must be a string or null (got 12)',
    );
  });
});

describe('validateEvent', () => {
  it('tags the normalised event with its kind', () => {
    expect(validateEvent({ ...fullScore() }, 'score', NOW)).toEqual({
      ok: true,
      value: { kind: 'score', event: fullScore() },
    });
    expect(validateEvent({ ...fullInvocation() }, 'invocation', NOW)).toEqual({
      ok: true,
      value: { kind: 'invocation', event: fullInvocation() },
    });
  });

  it('applies the rules of the given kind', () => {
    const result = validateEvent(minimalScoreInput(), 'invocation', NOW);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toContain('provider: required field is missing');
  });

  it('accepts records whose prototype is not Object.prototype (decoded Avro records)', () => {
    const record = Object.assign(Object.create({ inherited: true }) as object, fullScore());
    expect(validateEvent(record, 'score', NOW)).toEqual({
      ok: true,
      value: { kind: 'score', event: fullScore() },
    });
  });
});

describe('describeValue', () => {
  it('renders values briefly', () => {
    expect(describeValue('abc')).toBe('"abc"');
    expect(describeValue(Symbol('s'))).toBe('a symbol');
    expect(describeValue(() => 1)).toBe('a function');
    expect(describeValue(null)).toBe('null');
  });
});
