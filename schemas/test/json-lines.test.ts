import { describe, expect, it } from 'vitest';
import { jsonLineFields, parseJsonLine } from '../src/json-lines.js';
import { fullInvocation, fullScore, NOW } from './fixtures.js';

describe('parseJsonLine', () => {
  it('reads an invocation when "kind" is absent', () => {
    expect(parseJsonLine(JSON.stringify(fullInvocation()), NOW)).toEqual({
      ok: true,
      value: { kind: 'invocation', event: fullInvocation() },
    });
  });

  it('reads the kind from "kind" and does not store it', () => {
    const score = parseJsonLine(JSON.stringify({ kind: 'score', ...fullScore() }), NOW);
    expect(score).toEqual({ ok: true, value: { kind: 'score', event: fullScore() } });
    const invocation = parseJsonLine(JSON.stringify({ ...fullInvocation(), kind: 'invocation' }), NOW);
    expect(invocation).toEqual({ ok: true, value: { kind: 'invocation', event: fullInvocation() } });
  });

  it('tolerates surrounding whitespace and a trailing carriage return', () => {
    const line = `  ${JSON.stringify({ kind: 'score', ...fullScore() })}\r`;
    expect(parseJsonLine(line, NOW)).toEqual({ ok: true, value: { kind: 'score', event: fullScore() } });
  });

  it.each([
    ['"evaluation"', '"evaluation"'],
    ['"Score"', '"Score"'],
    ['1', '1'],
    ['["score"]', 'an array'],
  ])('rejects kind %s', (kind, got) => {
    const line = JSON.stringify(fullScore()).replace('{', `{"kind":${kind},`);
    expect(parseJsonLine(line, NOW)).toEqual({
      ok: false,
      error: `kind: must be "invocation" or "score" (got ${got})`,
    });
  });

  it.each(['null', '""'])('reads kind %s as absent: an invocation, like any optional field', (kind) => {
    const line = JSON.stringify(fullInvocation()).replace('{', `{"kind":${kind},`);
    expect(parseJsonLine(line, NOW)).toEqual({
      ok: true,
      value: { kind: 'invocation', event: fullInvocation() },
    });
  });

  it.each(['{"event_id": "x",', 'not json', '', "{'event_id': 'x'}"])('rejects malformed JSON %j', (line) => {
    const result = parseJsonLine(line, NOW);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(/^not valid JSON: /);
  });

  it.each([
    ['[1,2]', 'an array'],
    ['42', '42'],
    ['null', 'null'],
    ['"text"', '"text"'],
  ])('rejects a line holding %s instead of an object', (line, got) => {
    expect(parseJsonLine(line, NOW)).toEqual({
      ok: false,
      error: `event must be a JSON object (got ${got})`,
    });
  });

  it('rejects numbers written as strings with the validation message', () => {
    const line = JSON.stringify({ ...fullInvocation(), input_tokens: '12' });
    expect(parseJsonLine(line, NOW)).toEqual({
      ok: false,
      error: 'input_tokens: must be an integer >= 0 (got "12")',
    });
  });

  it('validates a score line with the score rules', () => {
    const line = JSON.stringify({ kind: 'score', ...fullScore(), value: 'good' });
    expect(parseJsonLine(line, NOW)).toEqual({
      ok: false,
      error: 'value: must be a finite number (got "good")',
    });
  });
});

describe('jsonLineFields', () => {
  it('gives the line parseJsonLine reads back as the same event, for both kinds', () => {
    for (const event of [
      { kind: 'invocation' as const, event: fullInvocation() },
      { kind: 'score' as const, event: fullScore() },
    ]) {
      const line = JSON.stringify(jsonLineFields(event));
      expect(parseJsonLine(line, NOW)).toEqual({ ok: true, value: event });
    }
    expect(jsonLineFields({ kind: 'invocation', event: fullInvocation() })).not.toHaveProperty('kind');
  });
});
