import type { LakeRow } from '@genai-pipeline/schemas';
import type { WindowResults } from '@genai-pipeline/sinks';
import { describe, expect, test } from 'vitest';
import { AnomalyDetector, type AnomalyParams } from '../../src/anomaly/detector.js';
import { Pricer } from '../../src/pricing/pricer.js';
import type { PartitionCheckpoint } from '../../src/run/checkpoint-store.js';
import { type InheritedState, inheritFromParents } from '../../src/run/inherit-state.js';
import { PartitionProcessor, serviceAndModelOfKey } from '../../src/window/partition-processor.js';

const T0 = Date.UTC(2025, 5, 1, 12, 0);
const NOW = T0 + 24 * 3_600_000;
const MINUTE = 60_000;
// Short histories, so a handful of windows is enough for the detector to judge (and find a spike).
const ANOMALY_PARAMS: Partial<AnomalyParams> = { minHistory: 3, minRequests: 3, minScores: 3 };

type Event = Record<string, unknown>;

/** A processor with its own detector (restored from `from` when given), recording what it closes. */
function partition(from?: InheritedState) {
  const windows: WindowResults[] = [];
  const detector = from
    ? AnomalyDetector.restore(from.detector, ANOMALY_PARAMS)
    : new AnomalyDetector(ANOMALY_PARAMS);
  const options = {
    maxOutOfOrdernessMs: 30_000,
    pricer: new Pricer(new Map([['model-a', { input: 1, output: 2 }]])),
    detector,
    clock: () => NOW,
    output: {
      raw: () => undefined,
      deadLetter: () => undefined,
      windowClosed: (w: WindowResults) => windows.push(w),
    },
  };
  const processor = from
    ? PartitionProcessor.restore(from.processor, options)
    : new PartitionProcessor(options);
  let offset = 0;
  return {
    processor,
    detector,
    windows,
    send: (...events: Event[]) => {
      for (const event of events)
        processor.process({ format: 'json', text: JSON.stringify(event) }, offset++);
    },
  };
}

type Partition = ReturnType<typeof partition>;

/** The partition's final checkpoint at SHARD_END, through JSON as the checkpoint store keeps it. */
function finalCheckpoint(name: string, { processor, detector }: Partition): PartitionCheckpoint {
  return JSON.parse(
    JSON.stringify({
      version: 1,
      partition: name,
      position: '49590338271490256608559692538361571095921575989136588898',
      nextOrdinal: processor.counters.events,
      processor: processor.snapshot(),
      detector: detector.snapshot(),
      takenAt: NOW,
      ended: true,
    }),
  ) as PartitionCheckpoint;
}

const invocation = (id: string, time: number, model: string, fields: Event = {}): Event => ({
  event_id: id,
  event_time: time,
  service: 'bot',
  provider: 'openai',
  model_id: model,
  operation: 'chat',
  input_tokens: 1000,
  output_tokens: 200,
  latency_ms: 120,
  status: 'OK',
  ...fields,
});

const score = (id: string, time: number, model: string, value: number): Event => ({
  kind: 'score',
  event_id: id,
  event_time: time,
  service: 'bot',
  model_id: model,
  name: 'faithfulness',
  value,
});

/**
 * Eight minutes of two keys (models a and b, a with a tenant), in event-time order: four calls and
 * three scores per key a minute; in minute 6 model a's token use jumps tenfold and its scores drop.
 */
function workload(): Event[] {
  const events: Event[] = [];
  for (let minute = 0; minute < 8; minute++) {
    for (let i = 0; i < 4; i++) {
      const time = T0 + minute * MINUTE + i * 15_000;
      const spike = minute === 6;
      events.push(
        invocation(`a-${minute}-${i}`, time, 'model-a', {
          tenant_id: 'acme',
          input_tokens: (spike ? 10_000 : 1000) + i * 7,
          latency_ms: 100 + i * 13 + minute,
        }),
        invocation(`b-${minute}-${i}`, time + 1, 'model-b', { output_tokens: 300 + i, ttft_ms: 40 + i }),
      );
      if (i < 3) {
        events.push(
          score(`sa-${minute}-${i}`, time + 2, 'model-a', spike ? 0.1 : 0.9 + i / 100),
          score(`sb-${minute}-${i}`, time + 3, 'model-b', 0.5 + i / 10),
        );
      }
    }
  }
  return events;
}

const ownsModel =
  (model: string) =>
  (_service: string, modelId: string): boolean =>
    modelId === model;

/** Every row the windows produced, per table, sorted: what two runs must share to have computed the same. */
function rowsOf(...windowLists: WindowResults[][]) {
  const sorted = (rows: LakeRow[]) => rows.map((row) => JSON.stringify(row)).sort();
  const windows = windowLists.flat();
  return {
    rollups: sorted(windows.flatMap((w) => w.rollups)),
    scoreRollups: sorted(windows.flatMap((w) => w.scoreRollups)),
    anomalies: sorted(windows.flatMap((w) => w.anomalies)),
  };
}

const modelsOf = (state: InheritedState) => ({
  rollups: state.processor.openWindows.flatMap((w) => w.rollups.map(([, cell]) => cell.model_id)),
  scores: state.processor.openWindows.flatMap((w) => w.scores.map(([, cell]) => cell.model_id)),
  detector: state.detector.keys.map((tracked) => serviceAndModelOfKey(tracked.type, tracked.key).modelId),
});

describe('inheritFromParents after a split', () => {
  const events = workload();
  // The reshard lands inside minute 4: that window is partly in the parent, partly in the children.
  const splitAt = T0 + 4 * MINUTE + 20_000;
  const beforeSplit = events.filter((e) => (e.event_time as number) < splitAt);
  const afterSplit = events.filter((e) => (e.event_time as number) >= splitAt);

  function split() {
    const parent = partition();
    parent.send(...beforeSplit);
    const checkpoint = finalCheckpoint('shardId-000000000000', parent);
    return {
      parent,
      checkpoint,
      a: inheritFromParents([checkpoint], ownsModel('model-a')),
      b: inheritFromParents([checkpoint], ownsModel('model-b')),
    };
  }

  test('each child gets only its keys: their open windows and their anomaly history', () => {
    const { checkpoint, a, b } = split();
    // The parent had both keys' windows open and both keys' histories.
    expect(
      new Set(checkpoint.processor.openWindows.flatMap((w) => w.rollups.map(([, c]) => c.model_id))),
    ).toEqual(new Set(['model-a', 'model-b']));
    expect(checkpoint.detector.keys).toHaveLength(4);

    // Minutes 3 and 4 are open (the watermark is 30 s behind), one rollup and one score key each.
    expect(modelsOf(a)).toEqual({
      rollups: ['model-a', 'model-a'],
      scores: ['model-a', 'model-a'],
      detector: ['model-a', 'model-a'],
    });
    expect(modelsOf(b)).toEqual({
      rollups: ['model-b', 'model-b'],
      scores: ['model-b', 'model-b'],
      detector: ['model-b', 'model-b'],
    });
    // The histories are the parent's, unchanged.
    const parentKeys = new Map(checkpoint.detector.keys.map((k) => [`${k.type}/${k.key}`, k]));
    for (const tracked of [...a.detector.keys, ...b.detector.keys]) {
      expect(tracked).toEqual(parentKeys.get(`${tracked.type}/${tracked.key}`));
    }
    expect(a.processor.openWindows.map((w) => w.windowStart)).toEqual([T0 + 3 * MINUTE, T0 + 4 * MINUTE]);
  });

  test('watermark and closed-through mark are the parent’s; counters start at zero', () => {
    const { parent, a } = split();
    const snapshot = parent.processor.snapshot();
    expect(snapshot.counters.events).toBe(beforeSplit.length);
    expect(a.processor.counters).toEqual({ events: 0, accepted: 0, duplicates: 0, late: 0, invalid: 0 });
    expect(a.processor.maxAcceptedEventTime).toBe(snapshot.maxAcceptedEventTime);
    expect(a.processor.closedThrough).toBe(snapshot.closedThrough);
    expect(a.detector.evictedKeys).toBe(0);
  });

  test('a window spanning the split closes once, in the child, with exactly the counts and sums of one partition', () => {
    const reference = partition();
    reference.send(...events);
    reference.processor.closeAll();

    const { parent, a, b } = split();
    const childA = partition(a);
    const childB = partition(b);
    childA.processor.closeOverdueWindows();
    childB.processor.closeOverdueWindows();
    expect([...childA.windows, ...childB.windows]).toEqual([]);
    childA.send(...afterSplit.filter((e) => e.model_id === 'model-a'));
    childB.send(...afterSplit.filter((e) => e.model_id === 'model-b'));
    childA.processor.closeAll();
    childB.processor.closeAll();

    const combined = rowsOf(parent.windows, childA.windows, childB.windows);
    expect(combined).toEqual(rowsOf(reference.windows));
    // The spike after the split was judged against the history from before it.
    expect(combined.anomalies.some((row) => row.includes('"token_spike"'))).toBe(true);
    expect(combined.anomalies.some((row) => row.includes('"quality_drop"'))).toBe(true);
    // Minute 4 was closed by no parent, and by each child for its key only.
    const minute4 = (windows: WindowResults[]) =>
      windows.filter((w) => w.windowStart === T0 + 4 * MINUTE).flatMap((w) => w.rollups);
    expect(minute4(parent.windows)).toEqual([]);
    expect(minute4(childA.windows)).toEqual([expect.objectContaining({ model_id: 'model-a', requests: 4 })]);
    expect(minute4(childB.windows)).toEqual([expect.objectContaining({ model_id: 'model-b', requests: 4 })]);
    expect(childA.processor.counters).toEqual({
      events: afterSplit.filter((e) => e.model_id === 'model-a').length,
      accepted: afterSplit.filter((e) => e.model_id === 'model-a').length,
      duplicates: 0,
      late: 0,
      invalid: 0,
    });
  });

  test('dedupe goes on in each child: a retried record of the parent, of any key, is dropped', () => {
    const { a } = split();
    expect(new Set(a.processor.dedupe.ids.map(([id]) => id))).toEqual(
      new Set(beforeSplit.map((e) => e.event_id)),
    );
    const child = partition(a);
    const retried = beforeSplit.filter((e) => (e.event_time as number) >= T0 + 4 * MINUTE);
    expect(retried.map((e) => e.model_id)).toContain('model-b');
    child.send(...retried);
    expect(child.processor.counters).toEqual({
      events: retried.length,
      accepted: 0,
      duplicates: retried.length,
      late: 0,
      invalid: 0,
    });
    child.processor.closeAll();
    expect(
      child.windows.flatMap((w) => w.rollups.map((r) => [w.windowStart, r.model_id, r.requests])),
    ).toEqual([
      [T0 + 3 * MINUTE, 'model-a', 4],
      [T0 + 4 * MINUTE, 'model-a', 2],
    ]);
  });
});

describe('inheritFromParents after a merge', () => {
  /** Parent 1 (model a) is at minute 5; parent 2 (model b) lags at minute 2, its minute-2 window open. */
  function parents() {
    const ahead = partition();
    const behind = partition();
    for (let minute = 0; minute < 6; minute++) {
      for (let i = 0; i < 3; i++) {
        const time = T0 + minute * MINUTE + i * 20_000;
        ahead.send(invocation(`a-${minute}-${i}`, time, 'model-a'));
        if (minute < 3)
          behind.send(invocation(`b-${minute}-${i}`, time, 'model-b', { input_tokens: 10 + i }));
      }
    }
    return { ahead, behind };
  }

  test('the child takes both parents’ windows and ids; closed-through and watermark are the furthest', () => {
    const { ahead, behind } = parents();
    const inherited = inheritFromParents(
      [finalCheckpoint('shardId-000000000001', ahead), finalCheckpoint('shardId-000000000002', behind)],
      () => true,
    );
    const aheadSnapshot = ahead.processor.snapshot();
    const behindSnapshot = behind.processor.snapshot();
    expect(behindSnapshot.closedThrough).toBeLessThan(aheadSnapshot.closedThrough as number);
    expect(inherited.processor.closedThrough).toBe(aheadSnapshot.closedThrough);
    expect(inherited.processor.maxAcceptedEventTime).toBe(aheadSnapshot.maxAcceptedEventTime);
    expect(
      inherited.processor.openWindows.map((w) => [w.windowStart, w.rollups.map(([, c]) => c.model_id)]),
    ).toEqual([
      [T0 + 2 * MINUTE, ['model-b']],
      [T0 + 5 * MINUTE, ['model-a']],
    ]);
    expect(inherited.processor.dedupe.ids.map(([id]) => id).sort()).toEqual(
      [...aheadSnapshot.dedupe.ids, ...behindSnapshot.dedupe.ids].map(([id]) => id).sort(),
    );
    expect(modelsOf(inherited).detector.sort()).toEqual(['model-a', 'model-b']);
  });

  test('the lagging parent’s window the other had passed closes at once, exactly once, with its counts', () => {
    const { ahead, behind } = parents();
    const inherited = inheritFromParents(
      [finalCheckpoint('shardId-000000000001', ahead), finalCheckpoint('shardId-000000000002', behind)],
      () => true,
    );
    const child = partition(inherited);
    child.processor.closeOverdueWindows();
    expect(
      child.windows.map((w) => [
        w.windowStart,
        w.rollups.map((r) => [r.model_id, r.requests, r.input_tokens]),
      ]),
    ).toEqual([[T0 + 2 * MINUTE, [['model-b', 3, 33]]]]);
    child.processor.closeOverdueWindows();
    expect(child.windows).toHaveLength(1);

    // Later events of that window are late now, as they are for the parent that had passed it.
    child.send(invocation('b-late', T0 + 2 * MINUTE + 1, 'model-b'));
    child.send(
      invocation('a-6', T0 + 6 * MINUTE, 'model-a'),
      invocation('b-6', T0 + 6 * MINUTE + 1, 'model-b'),
    );
    child.processor.closeAll();
    expect(child.processor.counters.late).toBe(1);
    expect(child.windows.map((w) => w.windowStart)).toEqual([
      T0 + 2 * MINUTE,
      T0 + 5 * MINUTE,
      T0 + 6 * MINUTE,
    ]);
    expect(child.windows[1]?.rollups).toEqual([
      expect.objectContaining({ model_id: 'model-a', requests: 3 }),
    ]);
  });

  test('a key open in the same window of both parents gets the merged aggregate of both', () => {
    const first = partition();
    const second = partition();
    const both = partition();
    const minute = T0 + 3 * MINUTE;
    for (let i = 0; i < 6; i++) {
      const call = invocation(`m-${i}`, minute + i * 1_000, 'model-a', {
        input_tokens: 100 * (i + 1),
        output_tokens: i,
        latency_ms: 10 + i * 17.5,
        status: i === 4 ? 'THROTTLED' : 'OK',
      });
      const rating = score(`s-${i}`, minute + i * 1_000, 'model-a', i / 7);
      (i % 2 === 0 ? first : second).send(call, rating);
      both.send(call, rating);
    }
    const inherited = inheritFromParents(
      [finalCheckpoint('shardId-000000000001', first), finalCheckpoint('shardId-000000000002', second)],
      () => true,
    );
    const child = partition(inherited);
    child.processor.closeAll();
    both.processor.closeAll();
    const [merged] = child.windows;
    const [expected] = both.windows;
    const rollup = merged?.rollups[0] as LakeRow;
    const expectedRollup = expected?.rollups[0] as LakeRow;
    for (const column of [
      'requests',
      'errors',
      'throttled',
      'input_tokens',
      'output_tokens',
      'latency_ms_max',
    ]) {
      expect([column, rollup[column]]).toEqual([column, expectedRollup[column]]);
    }
    expect(rollup.cost_usd as number).toBeCloseTo(expectedRollup.cost_usd as number, 12);
    expect(rollup.latency_ms_avg as number).toBeCloseTo(expectedRollup.latency_ms_avg as number, 9);
    const scoreRow = merged?.scoreRollups[0] as LakeRow;
    const expectedScore = expected?.scoreRollups[0] as LakeRow;
    expect([scoreRow.count, scoreRow.min, scoreRow.max]).toEqual([
      expectedScore.count,
      expectedScore.min,
      expectedScore.max,
    ]);
    expect(scoreRow.sum as number).toBeCloseTo(expectedScore.sum as number, 12);
  });

  test('a parent that had not seen anything yet adds nothing and takes nothing away', () => {
    const { ahead } = parents();
    const empty = partition();
    const alone = inheritFromParents([finalCheckpoint('p1', ahead)], () => true);
    const withEmpty = inheritFromParents(
      [finalCheckpoint('p1', ahead), finalCheckpoint('p2', empty)],
      () => true,
    );
    expect(withEmpty).toEqual(alone);
    expect(inheritFromParents([finalCheckpoint('p2', empty)], () => true).processor).toMatchObject({
      maxAcceptedEventTime: null,
      closedThrough: null,
      openWindows: [],
    });
  });
});
