import { PIPELINE_HEALTH_METRICS } from '@genai-pipeline/schemas';
import { describe, expect, it } from 'vitest';
import { healthDatums } from '../../src/cloudwatch/health-datums.js';

describe('healthDatums', () => {
  it('publishes every pipeline-health count under its schema name, with one Value each', () => {
    const now = Date.UTC(2026, 0, 1);
    const datums = healthDatums(
      {
        eventsIn: 1000,
        windowsClosed: 12,
        deadLetters: { invalid: 7, late: 3 },
        sinks: { cloudwatch: { failed: 1, breakerTrips: 0 }, s3: { failed: 0, breakerTrips: 2 } },
      },
      now,
    );
    const byName = datums.map((d) => [
      d.MetricName,
      d.Dimensions?.map((x) => `${x.Name}=${x.Value}`).join(),
      d.Value,
    ]);
    expect(byName).toEqual([
      ['EventsIn', undefined, 1000],
      ['WindowsClosed', undefined, 12],
      ['DeadLetters', 'Reason=invalid', 7],
      ['DeadLetters', 'Reason=late', 3],
      ['SinkFailures', 'Sink=cloudwatch', 1],
      ['BreakerTrips', 'Sink=cloudwatch', 0],
      ['SinkFailures', 'Sink=s3', 0],
      ['BreakerTrips', 'Sink=s3', 2],
    ]);
    const names = new Set(Object.values(PIPELINE_HEALTH_METRICS).map((m) => m.name));
    for (const datum of datums) {
      expect(names.has(datum.MetricName as string)).toBe(true);
      expect(datum.Timestamp).toEqual(new Date(now));
      expect(datum.StatisticValues).toBeUndefined();
    }
  });
});
