import { type RollupSnapshot, restoreRollup, rollup, snapshotRollup } from '../aggregate/rollup.js';
import { type ScoreAcc, scoreRollup } from '../aggregate/score-rollup.js';
import type { AnomalyDetectorState, TrackedKey } from '../anomaly/detector.js';
import { type PartitionSnapshot, serviceAndModelOfKey } from '../window/partition-processor.js';
import type { PartitionCheckpoint } from './checkpoint-store.js';

/** Whether a (service, model) pair's events now go to the child partition (its hash key range). */
export type KeyOwnership = (service: string, modelId: string) => boolean;

/** The processing state a partition starts from when it continues others (a Kinesis split or merge). */
export interface InheritedState {
  processor: PartitionSnapshot;
  detector: AnomalyDetectorState;
}

type OpenWindowSnapshot = PartitionSnapshot['openWindows'][number];
type RollupEntry = OpenWindowSnapshot['rollups'][number];
type ScoreEntry = OpenWindowSnapshot['scores'][number];

const maxOrNull = (values: (number | null)[]): number | null => {
  const present = values.filter((value): value is number => value !== null);
  return present.length > 0 ? Math.max(...present) : null;
};

/**
 * The state a child shard starts from, out of its parents' final checkpoints (taken at SHARD_END).
 * Producers key events by service and model, so after a split each key's events go to exactly one
 * child: that child takes the key's open windows and anomaly history, and its windows close exactly
 * once, with the parent's events and its own. After a merge the child takes both parents' keys. The
 * watermark and closed-through mark are the parents' furthest, so a window either parent closed stays
 * closed (later events of it are late) and a still-open one closes once the child's watermark passes
 * it. Event ids are kept from every parent: a retried record may arrive in any child.
 */
export function inheritFromParents(
  parents: readonly PartitionCheckpoint[],
  ownsKey: KeyOwnership,
): InheritedState {
  const windows = new Map<
    number,
    { rollups: Map<string, RollupEntry[1]>; scores: Map<string, ScoreEntry[1]> }
  >();
  const dedupeIds = new Map<string, number>();
  const detectorKeys = new Map<string, TrackedKey>();
  for (const parent of parents) {
    const { processor, detector } = parent;
    for (const open of processor.openWindows) {
      let window = windows.get(open.windowStart);
      if (window === undefined) {
        window = { rollups: new Map(), scores: new Map() };
        windows.set(open.windowStart, window);
      }
      for (const [key, cell] of open.rollups) {
        if (!ownsKey(cell.service, cell.model_id)) continue;
        const other = window.rollups.get(key);
        window.rollups.set(key, other ? { ...cell, acc: mergeRollups(other.acc, cell.acc) } : cell);
      }
      for (const [key, cell] of open.scores) {
        if (!ownsKey(cell.service, cell.model_id)) continue;
        const other = window.scores.get(key);
        window.scores.set(key, other ? { ...cell, acc: mergeScores(other.acc, cell.acc) } : cell);
      }
    }
    for (const [id, eventTime] of processor.dedupe.ids) {
      const seen = dedupeIds.get(id);
      if (seen === undefined || eventTime < seen) dedupeIds.set(id, eventTime);
    }
    for (const tracked of detector.keys) {
      const { service, modelId } = serviceAndModelOfKey(tracked.type, tracked.key);
      // One history per key: parents never share a key when producers key by service and model.
      if (ownsKey(service, modelId)) detectorKeys.set(`${tracked.type}/${tracked.key}`, tracked);
    }
  }
  return {
    processor: {
      version: 1,
      counters: { events: 0, accepted: 0, duplicates: 0, late: 0, invalid: 0 },
      maxAcceptedEventTime: maxOrNull(parents.map((p) => p.processor.maxAcceptedEventTime)),
      closedThrough: maxOrNull(parents.map((p) => p.processor.closedThrough)),
      dedupe: { ids: [...dedupeIds], forgottenEarly: 0 },
      openWindows: [...windows]
        .filter(([, window]) => window.rollups.size > 0 || window.scores.size > 0)
        .sort(([a], [b]) => a - b)
        .map(([windowStart, window]) => ({
          windowStart,
          rollups: [...window.rollups],
          scores: [...window.scores],
        })),
    },
    detector: { version: 1, evictedKeys: 0, keys: [...detectorKeys.values()] },
  };
}

const mergeRollups = (a: RollupSnapshot, b: RollupSnapshot): RollupSnapshot =>
  snapshotRollup(rollup.merge(restoreRollup(a), restoreRollup(b)));

const mergeScores = (a: ScoreAcc, b: ScoreAcc): ScoreAcc => scoreRollup.merge(a, b);
