import { DEFAULT_CLOUDWATCH_NAMESPACE, DEFAULT_DIMENSION_SETS } from '@genai-pipeline/schemas';
import { describe, expect, it } from 'vitest';
import { CLOUDWATCH_LIMITS, parseCloudWatchSinkConfig } from '../../src/cloudwatch/config.js';

describe('parseCloudWatchSinkConfig', () => {
  it('fills the contract defaults', () => {
    expect(parseCloudWatchSinkConfig()).toEqual({
      namespace: DEFAULT_CLOUDWATCH_NAMESPACE,
      dimensionSets: DEFAULT_DIMENSION_SETS,
      maxValuesPerDimensionPerDay: 100,
      maxScoreNames: 20,
      horizonMs: 14 * 86_400_000,
      maxDatumsPerRequest: 1000,
      maxRequestBytes: 1_000_000,
      maxQueuedDatums: 100_000,
      emf: 'off',
    });
  });

  it('takes configured dimension sets, namespace, caps and EMF targets', () => {
    const config = parseCloudWatchSinkConfig({
      namespace: 'Team/GenAI',
      dimensionSets: [['Service', 'Provider']],
      maxValuesPerDimensionPerDay: 5,
      emf: { file: '/tmp/emf.log' },
      region: 'eu-west-1',
    });
    expect(config).toMatchObject({
      namespace: 'Team/GenAI',
      dimensionSets: [['Service', 'Provider']],
      maxValuesPerDimensionPerDay: 5,
      emf: { file: '/tmp/emf.log' },
      region: 'eu-west-1',
    });
    expect(parseCloudWatchSinkConfig({ emf: 'stdout' }).emf).toBe('stdout');
  });

  it.each([
    [{ dimensionSets: [['Service', 'RequestId']] }, /dimensionSets\.0\.1/],
    [{ dimensionSets: [['Service', 'Service']] }, /each dimension once/],
    [{ dimensionSets: [[]] }, /at least one dimension/],
    [{ maxDatumsPerRequest: 1001 }, /maxDatumsPerRequest/],
    [{ maxRequestBytes: 2_000_000 }, /maxRequestBytes/],
    [{ horizonMs: CLOUDWATCH_LIMITS.horizonMs + 1 }, /horizonMs/],
    [{ maxValuesPerDimensionPerDay: 0 }, /maxValuesPerDimensionPerDay/],
    [{ namespace: '' }, /namespace/],
    [{ emf: 'stderr' }, /emf/],
  ])('rejects %j naming the field', (input, message) => {
    expect(() => parseCloudWatchSinkConfig(input as never)).toThrow(message);
  });
});
