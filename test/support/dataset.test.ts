import { describe, expect, it } from 'vitest';
import { generateDataset, mainDatasetOptions, PRICING_OVERRIDES, smallDatasetOptions } from './dataset.js';
import { computeExpected, InvalidEvent, parseLine, WINDOW_MS } from './expected.js';

const NOW = Date.UTC(2026, 0, 1);

describe('generateDataset', () => {
  const options = mainDatasetOptions(NOW);
  const dataset = generateDataset(options);
  const expected = computeExpected(dataset.lines, { nowMs: NOW, pricing: PRICING_OVERRIDES });

  it('is reproducible from its seed', () => {
    const small = smallDatasetOptions(NOW);
    expect(generateDataset(small).lines).toEqual(generateDataset(small).lines);
    expect(generateDataset({ ...small, seed: small.seed + 1 }).lines).not.toEqual(
      generateDataset(small).lines,
    );
  });

  it('is moderate in size and has blank lines', () => {
    expect(dataset.lines.length).toBeGreaterThan(30_000);
    expect(dataset.lines.length).toBeLessThan(60_000);
    expect(dataset.lines.filter((l) => l === '').length).toBe(30);
  });

  it('produces exactly the duplicates, late events and invalid lines it meant to', () => {
    expect(expected.summary.duplicates).toBe(dataset.intended.duplicates);
    expect(expected.summary.late).toBe(dataset.intended.late);
    expect(expected.summary.invalid).toBe(dataset.intended.invalid.length);
    for (const { kind, field, line } of dataset.intended.invalid) {
      let error: unknown;
      try {
        parseLine(line, NOW);
      } catch (e) {
        error = e;
      }
      expect(error, kind).toBeInstanceOf(InvalidEvent);
      expect((error as InvalidEvent).field ?? null, kind).toSatisfy((f: string | null) =>
        field === null ? f === null : (f ?? '').includes(field),
      );
    }
    expect(new Set(dataset.intended.invalid.map((i) => i.kind))).toEqual(
      new Set([
        'not-json',
        'not-object',
        'missing-required',
        'null-required',
        'token-as-string',
        'fractional-tokens',
        'negative-latency',
        'negative-ttft',
        'bad-status',
        'cache-sum-exceeds-input',
        'empty-required-string',
        'iso-event-time',
        'future-event-time',
        'bad-kind',
        'event-id-too-long',
        'optional-wrong-type',
        'score-value-as-string',
        'score-missing-name',
      ]),
    );
  });

  it('covers statuses, null tenants, ttft and cache tokens, caller costs and unpriced calls', () => {
    const invocations = expected.invocations;
    expect(new Set(invocations.map((e) => e.status))).toEqual(
      new Set(['OK', 'ERROR', 'THROTTLED', 'TIMEOUT', 'FILTERED']),
    );
    expect(invocations.some((e) => e.tenant_id === null)).toBe(true);
    expect(invocations.some((e) => e.ttft_ms === null) && invocations.some((e) => e.ttft_ms !== null)).toBe(
      true,
    );
    expect(invocations.some((e) => e.cache_read_input_tokens > 0 && e.cache_write_input_tokens > 0)).toBe(
      true,
    );
    const rollups = [...expected.rollups.values()];
    expect(rollups.some((r) => r.ttfts.length === 0)).toBe(true);
    expect(
      rollups
        .filter((r) => r.model_id === 'zz-internal-llm-7b' && r.tenant_id === null)
        .every((r) => r.unpriced_requests === r.requests && r.cost_usd === 0),
    ).toBe(true);
    expect(
      rollups
        .filter((r) => r.model_id === 'zz-internal-llm-7b' && r.tenant_id === 'acme')
        .every((r) => r.unpriced_requests === 0 && r.cost_usd > 0),
    ).toBe(true);
    expect(
      rollups.filter((r) => r.model_id === 'my-finetune-v1').every((r) => r.unpriced_requests === 0),
    ).toBe(true);
    const dates = new Set(rollups.map((r) => new Date(r.window_start).toISOString().slice(0, 10)));
    expect(dates.size).toBe(2);
  });

  it('gives every incident key >= 30 requests in every window and makes the incident visible', () => {
    expect(dataset.incidents.map((i) => i.kind)).toEqual([
      'token_spike',
      'error_rate',
      'latency',
      'quality_drop',
    ]);
    const end = options.startMs + options.windows * WINDOW_MS;
    for (const incident of dataset.incidents) {
      const counts = new Map<number, number>();
      const metric = new Map<number, number>();
      if (incident.kind === 'quality_drop') {
        for (const r of expected.scoreRollups.values()) {
          if (
            r.service !== incident.service ||
            r.model_id !== incident.model_id ||
            r.tenant_id !== incident.tenant_id
          )
            continue;
          // Scores trail their calls by seconds: the last ones spill past the dataset's windows.
          if (r.name !== incident.score_name || r.window_start >= end) continue;
          counts.set(r.window_start, r.count);
          metric.set(r.window_start, r.sum / r.count);
        }
      } else {
        for (const r of expected.rollups.values()) {
          if (
            r.service !== incident.service ||
            r.provider !== incident.provider ||
            r.model_id !== incident.model_id ||
            r.tenant_id !== incident.tenant_id
          )
            continue;
          counts.set(r.window_start, r.requests);
          const value = {
            token_spike: r.input_tokens + r.output_tokens,
            error_rate: r.errors / r.requests,
            latency: r.latency_ms_sum / r.requests,
          }[incident.kind];
          metric.set(r.window_start, value);
        }
      }
      expect(counts.size, incident.kind).toBe(options.windows);
      expect(Math.min(...counts.values()), incident.kind).toBeGreaterThanOrEqual(30);
      const first = incident.windowStarts[0] as number;
      expect(first - options.startMs, incident.kind).toBeGreaterThanOrEqual(15 * WINDOW_MS);
      const before = [...metric].filter(([w]) => w < first).map(([, v]) => v);
      const normal = before.reduce((a, b) => a + b, 0) / before.length;
      const during = metric.get(first) as number;
      if (incident.kind === 'quality_drop') expect(during).toBeLessThan(normal * 0.6);
      else if (incident.kind === 'error_rate') expect(during).toBeGreaterThan(0.35);
      else expect(during).toBeGreaterThan(normal * 4);
    }
  });
});
