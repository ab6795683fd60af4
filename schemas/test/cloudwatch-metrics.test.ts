import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CLOUDWATCH_NAMESPACE,
  DEFAULT_DIMENSION_SETS,
  METRICS,
  OTHER_DIMENSION_VALUE,
  scoreMetric,
} from '../src/cloudwatch-metrics.js';

// The names and units of CONTRACT.md §7, spelled out again on purpose: a rename must fail here.
describe('CloudWatch names (contract §7)', () => {
  it('metrics have the contract names and units', () => {
    expect(Object.values(METRICS).map((m) => [m.name, m.unit])).toEqual([
      ['Requests', 'Count'],
      ['Errors', 'Count'],
      ['Throttles', 'Count'],
      ['InputTokens', 'Count'],
      ['OutputTokens', 'Count'],
      ['CacheReadInputTokens', 'Count'],
      ['CacheWriteInputTokens', 'Count'],
      ['CostUSD', 'None'],
      ['Latency', 'Milliseconds'],
      ['TimeToFirstToken', 'Milliseconds'],
      ['Anomalies', 'Count'],
    ]);
  });

  it('distributions are Values/Counts, scores statistic sets, the rest plain values', () => {
    expect(METRICS.latency.shape).toBe('distribution');
    expect(METRICS.timeToFirstToken.shape).toBe('distribution');
    expect(scoreMetric('faithfulness')).toEqual({
      name: 'Score_faithfulness',
      unit: 'None',
      shape: 'statistic-set',
      statistic: 'Average',
    });
    expect(METRICS.requests.shape).toBe('value');
  });

  it('namespace, dimension sets and the overflow value', () => {
    expect(DEFAULT_CLOUDWATCH_NAMESPACE).toBe('GenAI/Pipeline');
    expect(DEFAULT_DIMENSION_SETS).toEqual([['Service'], ['Service', 'ModelId'], ['ModelId'], ['TenantId']]);
    expect(OTHER_DIMENSION_VALUE).toBe('__other__');
  });
});
