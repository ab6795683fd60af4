/**
 * Drives the demo workload in (compressed) real time and sends it to a collector with the producer
 * SDK, as an instrumented application would: `npm start` runs it next to `genai-pipeline run`.
 *
 * The simulated clock starts `backfillMinutes` in the past and runs `speed` times faster than the real
 * one until it has caught up, then follows it; so the detector has its history within a minute or two
 * and the scheduled incidents show soon after, and event times are never ahead of the real clock.
 */
import { createEmitter, type DropReason, HttpTransport } from '@genai-pipeline/producers';
import { jsonLineFields } from '@genai-pipeline/schemas';
import { EVENTS_PATH } from '../collector/http-collector.js';
import {
  createWorkload,
  DEFAULT_FIRST_INCIDENT_MINUTE,
  type ScheduledIncident,
  simulatedClock,
} from './workload.js';

export interface DemoOptions {
  /** The collector's base URL, e.g. `http://127.0.0.1:7070`; events go to its `/v1/events`. */
  url: string;
  /** Stops the demo: it then flushes what it emitted and closes the emitter. */
  signal: AbortSignal;
  /** Default 1. The same seed and start give the same events. */
  seed?: number;
  /** How much faster than real time the simulated clock runs while it catches up. Default 10. */
  speed?: number;
  /** How far in the past the simulated clock starts. Default 15 (the first incident is at minute 12-13). */
  backfillMinutes?: number;
  /**
   * Full simulated minutes of normal traffic before the first incident. Default 12: the detector needs 10
   * windows of history per key; a restarted pipeline whose detector kept its history may ask for fewer.
   */
  firstIncidentMinute?: number;
  /** Multiplies the traffic (default 1: about 15 events/s at real time, `speed` times that while catching up). */
  rate?: number;
  /**
   * The simulated clock never starts before this (epoch ms). A restarted pipeline passes the end of its
   * last closed window, so the demo does not send events into windows that are already closed (late).
   */
  notBefore?: number;
  /** How often the simulated clock advances and due events are emitted. Default 200 ms. */
  tickMs?: number;
  /** Longest wait for the final flush when stopping; what is left then is dropped. Default 10 s. */
  closeTimeoutMs?: number;
  /** The real clock (epoch ms). */
  clock?: () => number;
  /** Told after every tick and once more after the final flush; exceptions are not caught. */
  onStats?: (stats: DemoStats) => void;
}

export interface DemoStats {
  /** Epoch ms the simulated clock started at. */
  simulatedStart: number;
  /** Where the simulated clock is now (epoch ms). */
  simulatedTime: number;
  /** True once the simulated clock runs at real time. */
  caughtUp: boolean;
  /** Events handed to the emitter. */
  emitted: number;
  /** Events the collector acknowledged. */
  sent: number;
  /** Events given up on, all reasons together (see droppedByReason). */
  dropped: number;
  droppedByReason: Record<DropReason, number>;
  /** Event re-sends after retriable failures (503, connection refused, ...). */
  retried: number;
  /** Events buffered or in flight. */
  pending: number;
  /** The emitter's last send error, for diagnosis. */
  lastError: string | undefined;
  /** The next scheduled incident starting after the simulated clock, if any. */
  nextIncident: ScheduledIncident | undefined;
}

export const DEMO_DEFAULTS = Object.freeze({
  seed: 1,
  firstIncidentMinute: DEFAULT_FIRST_INCIDENT_MINUTE,
  speed: 10,
  backfillMinutes: 15,
  rate: 1,
  tickMs: 200,
  closeTimeoutMs: 10_000,
});

/** How far ahead `nextIncident` looks. */
const INCIDENT_LOOKAHEAD_MS = 3_600_000;

/** Resolves after `ms`, or as soon as the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs the demo until `signal` aborts; resolves with the final stats once everything emitted is
 * delivered or dropped (never rejects for delivery problems: they show in the stats).
 * Throws at once on invalid options.
 */
export async function runDemo(options: DemoOptions): Promise<DemoStats> {
  const settings = { ...DEMO_DEFAULTS, ...options };
  const clock = options.clock ?? Date.now;
  if (!(Number.isFinite(settings.backfillMinutes) && settings.backfillMinutes >= 0)) {
    throw new RangeError(`demo: backfillMinutes must be a number >= 0, got ${settings.backfillMinutes}`);
  }
  if (!(Number.isFinite(settings.tickMs) && settings.tickMs > 0)) {
    throw new RangeError(`demo: tickMs must be a number > 0, got ${settings.tickMs}`);
  }
  const realStart = clock();
  const simulatedStart = Math.floor(
    Math.min(
      realStart,
      Math.max(realStart - settings.backfillMinutes * 60_000, options.notBefore ?? Number.NEGATIVE_INFINITY),
    ),
  );
  const simulatedNow = simulatedClock({ realStart, simStart: simulatedStart, speed: settings.speed });
  const workload = createWorkload({
    seed: settings.seed,
    startTime: simulatedStart,
    rate: settings.rate,
    firstIncidentMinute: settings.firstIncidentMinute,
  });
  const emitter = createEmitter({
    transport: new HttpTransport({ url: new URL(EVENTS_PATH, settings.url) }),
  });

  let emitted = 0;
  let simulatedTime = simulatedStart;
  let caughtUp = false;
  const stats = (): DemoStats => {
    const s = emitter.stats();
    return {
      simulatedStart,
      simulatedTime,
      caughtUp,
      emitted,
      sent: s.sent,
      dropped: Object.values(s.dropped).reduce((a, b) => a + b, 0),
      droppedByReason: s.dropped,
      retried: s.retried,
      pending: s.buffered + s.inFlight,
      lastError: s.lastError,
      nextIncident: workload.incidents(simulatedTime + 1, simulatedTime + INCIDENT_LOOKAHEAD_MS)[0],
    };
  };

  try {
    while (!settings.signal.aborted) {
      const now = clock();
      const simulated = simulatedNow(now);
      caughtUp = simulated >= now;
      simulatedTime = Math.max(simulatedTime, Math.floor(simulated));
      for (const event of workload.eventsUntil(simulatedTime)) {
        // The emitter takes the JSON-lines shape.
        emitter.emit(jsonLineFields(event));
        emitted++;
      }
      options.onStats?.(stats());
      await sleep(settings.tickMs, settings.signal);
    }
  } finally {
    await emitter.close({ timeoutMs: settings.closeTimeoutMs });
  }
  const final = stats();
  options.onStats?.(final);
  return final;
}
