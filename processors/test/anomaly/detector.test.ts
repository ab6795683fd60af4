import { describe, expect, it } from 'vitest';
import {
  AnomalyDetector,
  type AnomalyFinding,
  DEFAULT_ANOMALY_PARAMS,
  MAX_SCORE,
  type RollupObservation,
  type ScoreObservation,
} from '../../src/anomaly/detector.js';

/** mulberry32: a small seeded PRNG so every run sees the same traffic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

function lognormal(random: () => number, median: number, sigma: number): number {
  return median * Math.exp(sigma * normal(random));
}

function poisson(random: () => number, lambda: number): number {
  const limit = Math.exp(-lambda);
  let k = 0;
  for (let p = random(); p > limit; p *= random()) k++;
  return k;
}

/** A rollup key's traffic profile: mean requests per window and per-request distributions. */
interface RollupProfile {
  requestsPerWindow: number;
  inputMedian: number;
  outputMedian: number;
  latencyMedianMs: number;
  errorRate: number;
  usdPerToken: number;
}

interface Shift {
  tokens?: number;
  cost?: number;
  errorRate?: number;
  latency?: number;
}

function rollupWindow(random: () => number, profile: RollupProfile, shift: Shift = {}): RollupObservation {
  const requests = Math.max(1, poisson(random, profile.requestsPerWindow));
  let errors = 0;
  let inputTokens = 0;
  let outputTokens = 0;
  const latencies: number[] = [];
  const errorRate = shift.errorRate ?? profile.errorRate;
  for (let i = 0; i < requests; i++) {
    if (random() < errorRate) errors++;
    inputTokens += Math.round(lognormal(random, profile.inputMedian, 0.6) * (shift.tokens ?? 1));
    outputTokens += Math.round(lognormal(random, profile.outputMedian, 0.8) * (shift.tokens ?? 1));
    latencies.push(lognormal(random, profile.latencyMedianMs, 0.5) * (shift.latency ?? 1));
  }
  latencies.sort((x, y) => x - y);
  const latencyP95Ms = latencies[Math.ceil(0.95 * requests) - 1] ?? 0;
  const costUsd = (inputTokens + outputTokens) * profile.usdPerToken * (shift.cost ?? 1);
  return { requests, errors, inputTokens, outputTokens, costUsd, latencyP95Ms };
}

interface ScoreProfile {
  scoresPerWindow: number;
  type: 'judge' | 'thumbs';
  quality: number;
}

function scoreWindow(
  random: () => number,
  profile: ScoreProfile,
  quality = profile.quality,
): ScoreObservation {
  const count = Math.max(1, poisson(random, profile.scoresPerWindow));
  let total = 0;
  for (let i = 0; i < count; i++) {
    total +=
      profile.type === 'judge'
        ? Math.min(1, Math.max(0, quality + 0.12 * normal(random)))
        : random() < quality
          ? 1
          : -1;
  }
  return { count, mean: total / count };
}

function rollupProfiles(random: () => number, keys: number): RollupProfile[] {
  return Array.from({ length: keys }, (_, i) => ({
    // Volumes spread log-uniformly over 5..200 requests per window.
    requestsPerWindow: 5 * 40 ** (i / (keys - 1)),
    inputMedian: 300 + 1500 * random(),
    outputMedian: 100 + 400 * random(),
    latencyMedianMs: 400 + 2000 * random(),
    errorRate: 0.02,
    usdPerToken: 3e-6 + 12e-6 * random(),
  }));
}

function scoreProfiles(keys: number): ScoreProfile[] {
  return Array.from({ length: keys }, (_, i) => ({
    scoresPerWindow: 5 * 12 ** (i / (keys - 1)),
    type: i % 2 === 0 ? 'judge' : 'thumbs',
    quality: i % 2 === 0 ? 0.85 : 0.8,
  }));
}

function expectFinite(findings: AnomalyFinding[]): void {
  for (const f of findings) {
    expect(Number.isFinite(f.observed) && Number.isFinite(f.baseline) && Number.isFinite(f.score)).toBe(true);
  }
}

/** Runs rollup and score keys side by side; `inject` may alter one key's window. Returns findings[window][key]. */
function simulate(options: {
  seed: number;
  windows: number;
  rollups: RollupProfile[];
  scores: ScoreProfile[];
  detector?: AnomalyDetector;
  rollupShift?: (window: number, key: number) => Shift | undefined;
  scoreShift?: (window: number, key: number) => number | undefined;
}): { rollup: AnomalyFinding[][][]; score: AnomalyFinding[][][] } {
  const random = rng(options.seed);
  const detector = options.detector ?? new AnomalyDetector();
  const rollup: AnomalyFinding[][][] = [];
  const score: AnomalyFinding[][][] = [];
  for (let w = 0; w < options.windows; w++) {
    rollup.push(
      options.rollups.map((profile, i) =>
        detector.judgeRollup(`r${i}`, rollupWindow(random, profile, options.rollupShift?.(w, i))),
      ),
    );
    score.push(
      options.scores.map((profile, i) =>
        detector.judgeScore(`s${i}`, scoreWindow(random, profile, options.scoreShift?.(w, i))),
      ),
    );
  }
  return { rollup, score };
}

const historyLengths = (detector: AnomalyDetector): number[] =>
  detector.snapshot().keys.map((k) => (k.type === 'rollup' ? k.history.requests : k.history.count).length);

const kindsOf = (findings: AnomalyFinding[] | undefined): string[] => (findings ?? []).map((f) => f.kind);

describe('AnomalyDetector on stationary traffic', () => {
  it('raises anomalies on at most 1% of judged key-windows, critical on at most 0.1%', () => {
    const rollups = rollupProfiles(rng(7), 20);
    const scores = scoreProfiles(20);
    let judged = 0;
    let flagged = 0;
    let critical = 0;
    // Re-creates the same observations as simulate() to know which windows were judged.
    const random = rng(42);
    const detector = new AnomalyDetector();
    const { minHistory, minRequests, minScores } = DEFAULT_ANOMALY_PARAMS;
    for (let w = 0; w < 300; w++) {
      const batches: [AnomalyFinding[], boolean][] = [
        ...rollups.map((profile, i): [AnomalyFinding[], boolean] => {
          const obs = rollupWindow(random, profile);
          return [detector.judgeRollup(`r${i}`, obs), w >= minHistory && obs.requests >= minRequests];
        }),
        ...scores.map((profile, i): [AnomalyFinding[], boolean] => {
          const obs = scoreWindow(random, profile);
          return [detector.judgeScore(`s${i}`, obs), w >= minHistory && obs.count >= minScores];
        }),
      ];
      for (const [findings, isJudged] of batches) {
        expectFinite(findings);
        if (!isJudged) expect(findings).toEqual([]);
        judged += isJudged ? 1 : 0;
        flagged += findings.length > 0 ? 1 : 0;
        critical += findings.some((f) => f.severity === 'critical') ? 1 : 0;
      }
    }
    expect(judged).toBeGreaterThan(7000);
    // Measured with this seed: 10 of 7_831 judged key-windows flagged (0.13%), 1 critical.
    expect(flagged / judged).toBeLessThanOrEqual(0.01);
    expect(critical / judged).toBeLessThanOrEqual(0.001);
  });
});

describe('AnomalyDetector on injected shifts', () => {
  const rollups = rollupProfiles(rng(11), 12);
  const scores = scoreProfiles(12);
  const shiftWindow = 60;

  const rollupCases: [string, Shift, string, number][] = [
    // Targets carry 37..146 requests per window, above minRequests.
    ['tokens x5', { tokens: 5 }, 'token_spike', 6],
    ['tokens x10', { tokens: 10 }, 'token_spike', 9],
    ['cost x5', { cost: 5 }, 'cost_spike', 8],
    ['error rate 2% -> 50%', { errorRate: 0.5 }, 'error_rate', 7],
    ['latency x5', { latency: 5 }, 'latency', 10],
  ];
  for (const [name, shift, kind, target] of rollupCases) {
    it(`catches ${name} as ${kind} in the shifted window and key only`, () => {
      const { rollup, score } = simulate({
        seed: 3,
        windows: shiftWindow + 1,
        rollups,
        scores,
        rollupShift: (w, i) => (w === shiftWindow && i === target ? shift : undefined),
      });
      const hit = rollup[shiftWindow]?.[target] ?? [];
      expect(kindsOf(hit)).toContain(kind);
      expectFinite(hit);
      // Before the shift the target key never raised this kind.
      for (let w = 0; w < shiftWindow; w++) expect(kindsOf(rollup[w]?.[target])).not.toContain(kind);
      // In the shifted window no other key raised anything.
      rollup[shiftWindow]?.forEach((findings, i) => {
        if (i !== target) expect(findings).toEqual([]);
      });
      expect(score[shiftWindow]?.flat()).toEqual([]);
    });
  }

  it('reports a price-only cost rise as cost_spike without token_spike', () => {
    const { rollup } = simulate({
      seed: 3,
      windows: shiftWindow + 1,
      rollups,
      scores: [],
      rollupShift: (w, i) => (w === shiftWindow && i === 8 ? { cost: 5 } : undefined),
    });
    expect(kindsOf(rollup[shiftWindow]?.[8])).toEqual(['cost_spike']);
    expect(rollup[shiftWindow]?.[8]?.[0]?.severity).toBe('critical');
  });

  const scoreCases: [string, number, number][] = [
    ['judge mean 0.85 -> 0.4, ~19 scores per window', 6, 0.4],
    ['thumbs up share 80% -> 20%, ~60 scores per window', 11, 0.2],
  ];
  for (const [name, target, quality] of scoreCases) {
    it(`catches a quality drop (${name}) in the shifted window and key only`, () => {
      const { rollup, score } = simulate({
        seed: 5,
        windows: shiftWindow + 1,
        rollups,
        scores,
        scoreShift: (w, i) => (w === shiftWindow && i === target ? quality : undefined),
      });
      const hit = score[shiftWindow]?.[target] ?? [];
      expect(kindsOf(hit)).toEqual(['quality_drop']);
      expect(hit[0]?.observed).toBeLessThan(hit[0]?.baseline ?? 0);
      for (let w = 0; w < shiftWindow; w++) expect(score[w]?.[target]).toEqual([]);
      score[shiftWindow]?.forEach((findings, i) => {
        if (i !== target) expect(findings).toEqual([]);
      });
      expect(rollup[shiftWindow]?.flat()).toEqual([]);
    });
  }

  it('does not call a quality rise a drop, but does for lower-is-better scores', () => {
    const history = (detector: AnomalyDetector) => {
      for (let w = 0; w < 10; w++) detector.judgeScore('s', { count: 20, mean: 0.5 + 0.02 * (w % 3) });
      return detector;
    };
    expect(history(new AnomalyDetector()).judgeScore('s', { count: 20, mean: 0.95 })).toEqual([]);
    expect(kindsOf(history(new AnomalyDetector()).judgeScore('s', { count: 20, mean: 0.05 }))).toEqual([
      'quality_drop',
    ]);
    // For a hallucination rate the same fall is good news and the rise is the drop.
    const hallucination = history(new AnomalyDetector());
    expect(hallucination.judgeScore('s', { count: 20, mean: 0.05 }, 'lower_is_better')).toEqual([]);
    const rise = hallucination.judgeScore('s', { count: 20, mean: 0.95 }, 'lower_is_better');
    expect(kindsOf(rise)).toEqual(['quality_drop']);
    expect(rise[0]).toMatchObject({ observed: 0.95 });
  });

  it('judges a quiet key surge against its low-volume history', () => {
    // 5 requests per window never reach minRequests, but those windows form the baseline.
    const quiet: RollupProfile = { ...(rollups[0] as RollupProfile), requestsPerWindow: 5 };
    const detector = new AnomalyDetector();
    const random = rng(9);
    for (let w = 0; w < 30; w++)
      expect(detector.judgeRollup('quiet', rollupWindow(random, quiet))).toEqual([]);
    const surge = detector.judgeRollup('quiet', rollupWindow(random, { ...quiet, requestsPerWindow: 100 }));
    expect(kindsOf(surge)).toEqual(['cost_spike']);
  });
});

const steady: RollupObservation = {
  requests: 100,
  errors: 2,
  inputTokens: 50_000,
  outputTokens: 10_000,
  costUsd: 0.3,
  latencyP95Ms: 2000,
};
const spike: RollupObservation = {
  requests: 100,
  errors: 60,
  inputTokens: 500_000,
  outputTokens: 100_000,
  costUsd: 3,
  latencyP95Ms: 20_000,
};
const allRollupKinds = ['token_spike', 'cost_spike', 'latency', 'error_rate'];

describe('AnomalyDetector gates', () => {
  it('judges only with minHistory windows of history', () => {
    const detector = new AnomalyDetector();
    for (let w = 0; w < DEFAULT_ANOMALY_PARAMS.minHistory - 1; w++) detector.judgeRollup('k', steady);
    // The 10th window has 9 behind it: not judged, but it joins the history.
    expect(detector.judgeRollup('k', spike)).toEqual([]);
    expect(kindsOf(detector.judgeRollup('k', spike)).sort()).toEqual([...allRollupKinds].sort());
  });

  it('judges only windows with the minimum volume, which still enter the history', () => {
    const detector = new AnomalyDetector({ minHistory: 10, minRequests: 20 });
    for (let w = 0; w < 10; w++) detector.judgeRollup('k', steady);
    const small = { ...spike, requests: 19, errors: 19, inputTokens: 95_000, outputTokens: 19_000 };
    expect(detector.judgeRollup('k', small)).toEqual([]);
    expect(historyLengths(detector)).toEqual([11]);
    expect(kindsOf(detector.judgeRollup('k', { ...small, requests: 20, errors: 20 }))).toContain(
      'error_rate',
    );

    const scores = new AnomalyDetector({ minScores: 10 });
    for (let w = 0; w < 10; w++) scores.judgeScore('s', { count: 30, mean: 0.85 + 0.01 * (w % 2) });
    expect(scores.judgeScore('s', { count: 9, mean: 0 })).toEqual([]);
    expect(kindsOf(scores.judgeScore('s', { count: 10, mean: 0 }))).toEqual(['quality_drop']);
  });

  it('needs a practical effect: the relative spread floor and the error-rate floor', () => {
    const detector = new AnomalyDetector();
    for (let w = 0; w < 10; w++) detector.judgeRollup('flat', steady);
    // A flat history has MAD 0; +40% stays under 5 sigma of the 10% floor, +60% does not.
    expect(detector.judgeRollup('flat', { ...steady, latencyP95Ms: 2800 })).toEqual([]);
    const latency = detector.judgeRollup('flat', { ...steady, latencyP95Ms: 3200 });
    expect(latency).toEqual([
      { kind: 'latency', observed: 3200, baseline: 2000, score: 6, severity: 'warning' },
    ]);
    // 1.5% -> 3% on a huge key is statistically certain but below errorRateMinIncrease.
    const big = { ...steady, requests: 1_000_000, errors: 15_000 };
    const huge = new AnomalyDetector();
    for (let w = 0; w < 10; w++) huge.judgeRollup('big', big);
    expect(huge.judgeRollup('big', { ...big, errors: 30_000 })).toEqual([]);
    expect(kindsOf(huge.judgeRollup('big', { ...big, errors: 40_000 }))).toEqual(['error_rate']);
  });

  it('scores error_rate as the z of the exact binomial tail', () => {
    const detector = new AnomalyDetector({ warningScore: 3 });
    // Smoothed baseline (199 + 1) / (9_998 + 2) = 0.02 exactly.
    for (let w = 0; w < 9; w++) detector.judgeRollup('k', { ...steady, errors: 20, requests: 1000 });
    detector.judgeRollup('k', { ...steady, errors: 19, requests: 998 });
    const snapshot = detector.snapshot();
    // Reference z values from scipy: norm.isf(binom.sf(k - 1, 100, 0.02)).
    for (const [errors, z] of [
      [10, 3.9803],
      [60, 18.2701],
    ] as const) {
      const findings = AnomalyDetector.restore(snapshot, detector.params).judgeRollup('k', {
        ...steady,
        errors,
      });
      const finding = findings.find((f) => f.kind === 'error_rate');
      expect(finding?.baseline).toBeCloseTo(0.02, 12);
      expect(finding?.score).toBeCloseTo(z, 1);
    }
  });
});

describe('AnomalyDetector state', () => {
  it('round-trips through JSON and then gives identical findings', () => {
    const rollups = rollupProfiles(rng(13), 6);
    const scores = scoreProfiles(6);
    const original = new AnomalyDetector();
    simulate({ seed: 21, windows: 40, rollups, scores, detector: original });
    const state = JSON.parse(JSON.stringify(original.snapshot()));
    const restored = AnomalyDetector.restore(state);
    expect(restored.snapshot()).toEqual(original.snapshot());
    const shifts = {
      rollupShift: (w: number, i: number) =>
        w === 10 && i === 3 ? { tokens: 8, errorRate: 0.5 } : undefined,
      scoreShift: (w: number, i: number) => (w === 12 && i === 2 ? 0.3 : undefined),
    };
    const after = simulate({ seed: 22, windows: 30, rollups, scores, detector: original, ...shifts });
    const afterRestored = simulate({ seed: 22, windows: 30, rollups, scores, detector: restored, ...shifts });
    expect(after.rollup.flat(2).length).toBeGreaterThan(0);
    expect(afterRestored).toEqual(after);
    expect(restored.snapshot()).toEqual(original.snapshot());
  });

  it('rejects a malformed state with a message naming the problem', () => {
    expect(() => AnomalyDetector.restore({ version: 2 } as never)).toThrow(/version: 1/);
    const withScoreHistory = (history: unknown) => ({
      version: 1,
      evictedKeys: 0,
      keys: [{ type: 'score', key: 'k', history }],
    });
    expect(AnomalyDetector.restore(withScoreHistory({ count: [3], mean: [0.5] }) as never).trackedKeys).toBe(
      1,
    );
    for (const history of [{ count: ['x'], mean: [0.5] }, { count: [3] }, { count: [3, 4], mean: [0.5] }]) {
      expect(() => AnomalyDetector.restore(withScoreHistory(history) as never)).toThrow(
        /history of score key k/,
      );
    }
  });

  it('evicts the least recently judged key when over maxTrackedKeys, and counts it', () => {
    const detector = new AnomalyDetector({ maxTrackedKeys: 3 });
    for (const key of ['a', 'b', 'c']) detector.judgeRollup(key, steady);
    // Score keys share the bound: the score key 'a' evicts the rollup key 'a', the oldest.
    detector.judgeScore('a', { count: 1, mean: 1 });
    expect(detector.evictedKeys).toBe(1);
    detector.judgeRollup('b', steady); // b becomes the most recent, so c is next to go
    detector.judgeRollup('d', steady);
    expect(detector.evictedKeys).toBe(2);
    expect(detector.trackedKeys).toBe(3);
    const names = (d: AnomalyDetector) => d.snapshot().keys.map((k) => `${k.type}:${k.key}`);
    expect(names(detector)).toEqual(['score:a', 'rollup:b', 'rollup:d']);
    // A returning evicted key starts over with an empty history.
    detector.judgeRollup('a', steady);
    expect(names(detector)).toEqual(['rollup:b', 'rollup:d', 'rollup:a']);
    expect(historyLengths(detector)).toEqual([2, 1, 1]);
    // Restoring under a smaller bound evicts the least recent too.
    const smaller = AnomalyDetector.restore(detector.snapshot(), { maxTrackedKeys: 2 });
    expect(smaller.evictedKeys).toBe(4);
    expect(names(smaller)).toEqual(['rollup:d', 'rollup:a']);
  });
});

describe('AnomalyDetector outputs', () => {
  it('stays finite on degenerate histories and extreme windows', () => {
    const detector = new AnomalyDetector();
    const zero: RollupObservation = {
      requests: 1_000_000,
      errors: 0,
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
      latencyP95Ms: 0,
    };
    for (let w = 0; w < 30; w++) detector.judgeRollup('zero', zero);
    const extreme = {
      requests: 1_000_000,
      errors: 1_000_000,
      inputTokens: 1e15,
      outputTokens: 1e15,
      // Over a 1e-6 spread floor these would overflow to Infinity without the score cap.
      costUsd: 1e305,
      latencyP95Ms: Number.MAX_VALUE,
    };
    const findings = detector.judgeRollup('zero', extreme);
    expect(kindsOf(findings).sort()).toEqual([...allRollupKinds].sort());
    expectFinite(findings);
    for (const f of findings) expect(f.severity).toBe('critical');
    expect(findings.find((f) => f.kind === 'cost_spike')?.score).toBe(MAX_SCORE);
    for (let w = 0; w < 10; w++) detector.judgeScore('q', { count: 1000, mean: 1 });
    const drop = detector.judgeScore('q', { count: 1_000_000, mean: -1e300 });
    expectFinite(drop);
    expect(kindsOf(drop)).toEqual(['quality_drop']);
  });

  it('rejects impossible observations and parameters, naming the field', () => {
    const detector = new AnomalyDetector();
    expect(() => detector.judgeRollup('k', { ...steady, requests: 0 })).toThrow(/requests/);
    expect(() => detector.judgeRollup('k', { ...steady, errors: 101 })).toThrow(/errors/);
    expect(() => detector.judgeRollup('k', { ...steady, costUsd: Number.NaN })).toThrow(/costUsd/);
    expect(() => detector.judgeScore('k', { count: 1, mean: Number.POSITIVE_INFINITY })).toThrow(/mean/);
    expect(() => new AnomalyDetector({ minHistory: 40 })).toThrow(/minHistory/);
    expect(() => new AnomalyDetector({ relativeSigmaFloor: 0 })).toThrow(/relativeSigmaFloor/);
  });
});
