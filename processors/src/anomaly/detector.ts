/**
 * Anomaly detection on closed 60 s windows, each key judged against its own trailing history.
 *
 * Pure and deterministic (no clocks, no randomness); the whole state is plain JSON for checkpoints.
 *
 * Method
 * - Per key a bounded history of the last `historyLength` (30) windows. A window is judged only when
 *   the key already has `minHistory` (10) windows and the judged window has enough volume
 *   (`minRequests` 20 requests for rollups, `minScores` 10 scores for score windows), and is then
 *   appended to the history. Windows below the minimum volume are not judged but DO enter the
 *   history: a quiet key keeps a baseline that describes it, so its first busy window (a traffic or
 *   cost surge) is judged against it, and the error-rate baseline pools every request.
 * - Every kind reports a score on one scale (standard-normal z, higher = more anomalous), is
 *   `warning` at `warningScore` (5) and `critical` at `criticalScore` (10), and must also pass a
 *   minimum practical effect so that tiny but statistically certain changes on huge keys stay quiet.
 *   (At 4 / 8 the stationary false-positive rate measured in the tests was about 3x higher.)
 * - token_spike: tokens per request, (input + output) / requests. cost_spike: the window's total cost,
 *   because that is what pays the bill: a traffic surge at unchanged unit cost is a cost spike users
 *   want to hear about, while a per-request cost change on one key (one model, fixed prices) is
 *   already a token_spike. latency: the window's p95 latency.
 *   These three use a one-sided (upward) robust z = (x - median) / max(1.4826 * MAD,
 *   `relativeSigmaFloor` (0.1) * |median|, absolute floor), over the history's values, with
 *   absolute floors `tokensSigmaFloor` (1 token), `costSigmaFloorUsd` (1e-6), `latencySigmaFloorMs`
 *   (1 ms). The floors keep a flat history from turning every wobble into an infinite score; the
 *   relative floor also means a warning needs at least +50 % over the median, critical +100 %.
 * - error_rate: errors / requests, exact one-sided binomial test of the window's errors against the
 *   history's pooled rate, Laplace-smoothed ((errors + 1) / (requests + 2)) so an all-zero history
 *   still has a positive rate and a single error on a clean key is not infinitely surprising. The
 *   p-value is reported as its z equivalent; the rate must also exceed the baseline by
 *   `errorRateMinIncrease` (0.02, absolute).
 * - quality_drop: the window's mean score, one-sided z test of the window mean against the
 *   history's count-weighted mean. The per-score standard deviation comes robustly from the
 *   history's window means, sigma^2 = median(count * (mean - baseline)^2) / 0.4549 (the median of a
 *   chi-square with 1 degree of freedom), so one bad window in the history does not mask the next;
 *   it is floored like the robust z (`relativeSigmaFloor` of |baseline|, `scoreSigmaFloor` 0.01).
 *   The drop must be at least `qualityMinDrop` (0.05, in the score's units). For lower-is-better scores (hallucination,
 *   refusal) the caller passes `lower_is_better` and a rise is the drop.
 * - Keys are bounded: at most `maxTrackedKeys` (100 000) rollup and score keys together; the least
 *   recently judged key is evicted (its history is lost) and counted in `evictedKeys`.
 * - observed, baseline and score are always finite; scores are capped at `MAX_SCORE` (1e6).
 */
import { gammaln, median, medianAbsoluteDeviation, probit, sum, weightedMean } from 'simple-statistics';

export type AnomalyKind = 'token_spike' | 'cost_spike' | 'error_rate' | 'latency' | 'quality_drop';
export type Severity = 'warning' | 'critical';
export interface AnomalyFinding {
  kind: AnomalyKind;
  observed: number;
  baseline: number;
  score: number;
  severity: Severity;
}
/** One closed 60 s window of one rollup key (service, provider, model_id, tenant_id). */
export interface RollupObservation {
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  latencyP95Ms: number;
}
/** One closed window of one score key (service, model_id, tenant_id, name). */
export interface ScoreObservation {
  count: number;
  mean: number;
}
/** Which direction of a score's mean is a quality drop. */
export type ScorePolarity = 'higher_is_better' | 'lower_is_better';

export interface AnomalyParams {
  /** Windows kept per key (the trailing history). */
  historyLength: number;
  /** Windows a key must already have before its windows are judged. */
  minHistory: number;
  /** Requests a rollup window needs to be judged. */
  minRequests: number;
  /** Scores a score window needs to be judged. */
  minScores: number;
  /** Score (z scale) from which a finding is raised as a warning. */
  warningScore: number;
  /** Score (z scale) from which a finding is critical. */
  criticalScore: number;
  /** Spread floor relative to |baseline| for robust z and quality z. */
  relativeSigmaFloor: number;
  /** Absolute spread floors, used when the baseline is (near) zero. */
  tokensSigmaFloor: number;
  costSigmaFloorUsd: number;
  latencySigmaFloorMs: number;
  scoreSigmaFloor: number;
  /** Minimum absolute rise of the error rate over its baseline (0.02 = 2 percentage points). */
  errorRateMinIncrease: number;
  /** Minimum absolute drop of a score mean, in the score's units. */
  qualityMinDrop: number;
  /** Bound on tracked keys (rollup and score keys together); least recently judged are evicted. */
  maxTrackedKeys: number;
}

export const DEFAULT_ANOMALY_PARAMS: AnomalyParams = Object.freeze({
  historyLength: 30,
  minHistory: 10,
  minRequests: 20,
  minScores: 10,
  warningScore: 5,
  criticalScore: 10,
  relativeSigmaFloor: 0.1,
  tokensSigmaFloor: 1,
  costSigmaFloorUsd: 1e-6,
  latencySigmaFloorMs: 1,
  scoreSigmaFloor: 0.01,
  errorRateMinIncrease: 0.02,
  qualityMinDrop: 0.05,
  maxTrackedKeys: 100_000,
});

/** Cap on reported scores, so a tiny floor and a huge value still give a finite double. */
export const MAX_SCORE = 1e6;

/** Column-wise history of one rollup key, oldest first. */
export interface RollupHistory {
  requests: number[];
  errors: number[];
  tokensPerRequest: number[];
  costUsd: number[];
  latencyP95Ms: number[];
}
/** Column-wise history of one score key, oldest first. */
export interface ScoreHistory {
  count: number[];
  mean: number[];
}
export type TrackedKey =
  | { type: 'rollup'; key: string; history: RollupHistory }
  | { type: 'score'; key: string; history: ScoreHistory };
export interface AnomalyDetectorState {
  version: 1;
  evictedKeys: number;
  /** Least recently judged first (the LRU order matters for later evictions). */
  keys: TrackedKey[];
}

const MAD_TO_SIGMA = 1.4826;
const CHI2_1_MEDIAN = 0.4549;
// Below this p-value probit's 2p - 1 loses precision; the normal tail asymptotic takes over.
const PROBIT_MIN_P = 1e-10;

export class AnomalyDetector {
  readonly params: AnomalyParams;
  // Map iteration order is insertion order: re-inserting on use makes the first entry the LRU one.
  private readonly tracked = new Map<string, TrackedKey>();
  private evicted = 0;

  constructor(params: Partial<AnomalyParams> = {}) {
    this.params = validateParams({ ...DEFAULT_ANOMALY_PARAMS, ...params });
  }

  get evictedKeys(): number {
    return this.evicted;
  }

  /** Keys currently tracked (rollup and score together). */
  get trackedKeys(): number {
    return this.tracked.size;
  }

  judgeRollup(key: string, obs: RollupObservation): AnomalyFinding[] {
    validateRollup(obs);
    const entry = this.touch('rollup', key, emptyRollupHistory);
    const history = entry.history as RollupHistory;
    const current = {
      tokensPerRequest: (obs.inputTokens + obs.outputTokens) / obs.requests,
      costUsd: obs.costUsd,
      latencyP95Ms: obs.latencyP95Ms,
    };
    const p = this.params;
    const findings: AnomalyFinding[] = [];
    if (history.requests.length >= p.minHistory && obs.requests >= p.minRequests) {
      const spikes: [AnomalyKind, number, number[], number][] = [
        ['token_spike', current.tokensPerRequest, history.tokensPerRequest, p.tokensSigmaFloor],
        ['cost_spike', current.costUsd, history.costUsd, p.costSigmaFloorUsd],
        ['latency', current.latencyP95Ms, history.latencyP95Ms, p.latencySigmaFloorMs],
      ];
      for (const [kind, observed, values, absoluteFloor] of spikes) {
        const finding = this.robustSpike(kind, observed, values, absoluteFloor);
        if (finding) findings.push(finding);
      }
      const errorFinding = this.errorRate(obs, history);
      if (errorFinding) findings.push(errorFinding);
    }
    pushBounded(history.requests, obs.requests, p.historyLength);
    pushBounded(history.errors, obs.errors, p.historyLength);
    pushBounded(history.tokensPerRequest, current.tokensPerRequest, p.historyLength);
    pushBounded(history.costUsd, current.costUsd, p.historyLength);
    pushBounded(history.latencyP95Ms, current.latencyP95Ms, p.historyLength);
    return findings;
  }

  judgeScore(
    key: string,
    obs: ScoreObservation,
    polarity: ScorePolarity = 'higher_is_better',
  ): AnomalyFinding[] {
    validateScore(obs);
    const history = this.touch('score', key, emptyScoreHistory).history as ScoreHistory;
    const p = this.params;
    const findings: AnomalyFinding[] = [];
    if (history.count.length >= p.minHistory && obs.count >= p.minScores) {
      const finding = this.qualityDrop(obs, history, polarity);
      if (finding) findings.push(finding);
    }
    pushBounded(history.count, obs.count, p.historyLength);
    pushBounded(history.mean, obs.mean, p.historyLength);
    return findings;
  }

  snapshot(): AnomalyDetectorState {
    return structuredClone({ version: 1, evictedKeys: this.evicted, keys: [...this.tracked.values()] });
  }

  static restore(state: AnomalyDetectorState, params: Partial<AnomalyParams> = {}): AnomalyDetector {
    if (state?.version !== 1 || !Array.isArray(state.keys) || !Number.isInteger(state.evictedKeys)) {
      throw new TypeError('anomaly detector state: expected {version: 1, evictedKeys: integer, keys: array}');
    }
    const detector = new AnomalyDetector(params);
    detector.evicted = state.evictedKeys;
    const { historyLength } = detector.params;
    for (const entry of structuredClone(state.keys)) {
      if ((entry.type !== 'rollup' && entry.type !== 'score') || typeof entry.key !== 'string') {
        throw new TypeError('anomaly detector state: keys[] entries need type rollup|score and a string key');
      }
      const columns = (entry.type === 'rollup' ? ROLLUP_COLUMNS : SCORE_COLUMNS).map(
        (name) => (entry.history as unknown as Record<string, unknown>)?.[name],
      );
      const length = Array.isArray(columns[0]) ? columns[0].length : -1;
      for (const column of columns) {
        if (!Array.isArray(column) || column.length !== length || !column.every(Number.isFinite)) {
          throw new TypeError(
            `anomaly detector state: history of ${entry.type} key ${entry.key} needs equally long numeric columns`,
          );
        }
        // A shorter configured history keeps the most recent windows.
        column.splice(0, Math.max(0, column.length - historyLength));
      }
      detector.tracked.set(internalKey(entry.type, entry.key), entry);
    }
    detector.evictOverflow();
    return detector;
  }

  private touch(type: TrackedKey['type'], key: string, empty: () => TrackedKey['history']): TrackedKey {
    const id = internalKey(type, key);
    let entry = this.tracked.get(id);
    if (entry) {
      this.tracked.delete(id);
    } else {
      entry = { type, key, history: empty() } as TrackedKey;
    }
    this.tracked.set(id, entry);
    this.evictOverflow();
    return entry;
  }

  private evictOverflow(): void {
    for (const id of this.tracked.keys()) {
      if (this.tracked.size <= this.params.maxTrackedKeys) return;
      this.tracked.delete(id);
      this.evicted++;
    }
  }

  private robustSpike(
    kind: AnomalyKind,
    observed: number,
    history: number[],
    absoluteFloor: number,
  ): AnomalyFinding | undefined {
    const baseline = median(history);
    const sigma = Math.max(
      MAD_TO_SIGMA * medianAbsoluteDeviation(history),
      this.params.relativeSigmaFloor * Math.abs(baseline),
      absoluteFloor,
    );
    return this.finding(kind, observed, baseline, (observed - baseline) / sigma);
  }

  private errorRate(obs: RollupObservation, history: RollupHistory): AnomalyFinding | undefined {
    const baseline = (sum(history.errors) + 1) / (sum(history.requests) + 2);
    const observed = obs.errors / obs.requests;
    if (observed - baseline < this.params.errorRateMinIncrease) return undefined;
    const score = upperTailToZ(logBinomialUpperTail(obs.errors, obs.requests, baseline));
    return this.finding('error_rate', observed, baseline, score);
  }

  private qualityDrop(
    obs: ScoreObservation,
    history: ScoreHistory,
    polarity: ScorePolarity,
  ): AnomalyFinding | undefined {
    const baseline = weightedMean(history.mean, history.count);
    // Under no change count * (mean - baseline)^2 is sigma^2 times a chi-square(1), whose median is 0.4549.
    const perScoreVariance =
      median(history.mean.map((m, i) => (history.count[i] ?? 0) * (m - baseline) ** 2)) / CHI2_1_MEDIAN;
    const sigma = Math.max(
      Math.sqrt(perScoreVariance),
      this.params.relativeSigmaFloor * Math.abs(baseline),
      this.params.scoreSigmaFloor,
    );
    const drop = polarity === 'higher_is_better' ? baseline - obs.mean : obs.mean - baseline;
    if (drop < this.params.qualityMinDrop) return undefined;
    return this.finding('quality_drop', obs.mean, baseline, drop / (sigma / Math.sqrt(obs.count)));
  }

  private finding(
    kind: AnomalyKind,
    observed: number,
    baseline: number,
    rawScore: number,
  ): AnomalyFinding | undefined {
    const score = Math.min(rawScore, MAX_SCORE);
    if (!(score >= this.params.warningScore)) return undefined;
    const severity: Severity = score >= this.params.criticalScore ? 'critical' : 'warning';
    return { kind, observed, baseline, score, severity };
  }
}

function internalKey(type: TrackedKey['type'], key: string): string {
  return `${type}\u0000${key}`;
}

const ROLLUP_COLUMNS: (keyof RollupHistory)[] = [
  'requests',
  'errors',
  'tokensPerRequest',
  'costUsd',
  'latencyP95Ms',
];
const SCORE_COLUMNS: (keyof ScoreHistory)[] = ['count', 'mean'];

function emptyRollupHistory(): RollupHistory {
  return { requests: [], errors: [], tokensPerRequest: [], costUsd: [], latencyP95Ms: [] };
}

function emptyScoreHistory(): ScoreHistory {
  return { count: [], mean: [] };
}

function pushBounded(column: number[], value: number, limit: number): void {
  column.push(value);
  if (column.length > limit) column.splice(0, column.length - limit);
}

/** ln P(X >= k) for X ~ Binomial(n, p), 0 < p < 1, summed from the k-th term with a ratio recurrence. */
function logBinomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 0;
  const logFirst =
    gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) + k * Math.log(p) + (n - k) * Math.log1p(-p);
  const odds = p / (1 - p);
  let term = 1;
  let total = 1;
  for (let i = k; i < n && term > 1e-17 * total; i++) {
    term *= ((n - i) / (i + 1)) * odds;
    total += term;
  }
  return Math.min(0, logFirst + Math.log(total));
}

/** The z whose standard-normal upper tail has probability exp(logP). */
function upperTailToZ(logP: number): number {
  const p = Math.exp(logP);
  if (p >= PROBIT_MIN_P) return -probit(p);
  // ln Q(z) ~= -z^2/2 - ln z - ln sqrt(2 pi) + ln(1 - 1/z^2): solve by fixed-point iteration.
  const target = -logP - 0.5 * Math.log(2 * Math.PI);
  let z = Math.sqrt(-2 * logP);
  for (let i = 0; i < 8; i++) {
    z = Math.sqrt(2 * (target - Math.log(z) + Math.log1p(-1 / (z * z))));
  }
  return z;
}

function validateParams(params: AnomalyParams): AnomalyParams {
  const positive: (keyof AnomalyParams)[] = [
    'relativeSigmaFloor',
    'tokensSigmaFloor',
    'costSigmaFloorUsd',
    'latencySigmaFloorMs',
    'scoreSigmaFloor',
    'warningScore',
  ];
  for (const name of positive) {
    if (!(Number.isFinite(params[name]) && params[name] > 0)) {
      throw new RangeError(`anomaly params: ${name} must be a finite number > 0, got ${params[name]}`);
    }
  }
  for (const name of ['errorRateMinIncrease', 'qualityMinDrop', 'minRequests', 'minScores'] as const) {
    if (!(Number.isFinite(params[name]) && params[name] >= 0)) {
      throw new RangeError(`anomaly params: ${name} must be a finite number >= 0, got ${params[name]}`);
    }
  }
  for (const name of ['historyLength', 'maxTrackedKeys'] as const) {
    if (!(Number.isInteger(params[name]) && params[name] >= 1)) {
      throw new RangeError(`anomaly params: ${name} must be an integer >= 1, got ${params[name]}`);
    }
  }
  // Two windows are the least a spread can be measured from.
  if (
    !(
      Number.isInteger(params.minHistory) &&
      params.minHistory >= 2 &&
      params.minHistory <= params.historyLength
    )
  ) {
    throw new RangeError(
      `anomaly params: minHistory must be an integer in [2, historyLength], got ${params.minHistory}`,
    );
  }
  if (!(params.criticalScore >= params.warningScore)) {
    throw new RangeError('anomaly params: criticalScore must be >= warningScore');
  }
  return Object.freeze(params);
}

function validateRollup(obs: RollupObservation): void {
  if (!(Number.isInteger(obs.requests) && obs.requests >= 1)) {
    throw new RangeError(`rollup observation: requests must be an integer >= 1, got ${obs.requests}`);
  }
  if (!(Number.isInteger(obs.errors) && obs.errors >= 0 && obs.errors <= obs.requests)) {
    throw new RangeError(`rollup observation: errors must be an integer in [0, requests], got ${obs.errors}`);
  }
  for (const name of ['inputTokens', 'outputTokens', 'costUsd', 'latencyP95Ms'] as const) {
    if (!(Number.isFinite(obs[name]) && obs[name] >= 0)) {
      throw new RangeError(`rollup observation: ${name} must be a finite number >= 0, got ${obs[name]}`);
    }
  }
}

function validateScore(obs: ScoreObservation): void {
  if (!(Number.isInteger(obs.count) && obs.count >= 1)) {
    throw new RangeError(`score observation: count must be an integer >= 1, got ${obs.count}`);
  }
  if (!Number.isFinite(obs.mean)) {
    throw new RangeError(`score observation: mean must be a finite number, got ${obs.mean}`);
  }
}
