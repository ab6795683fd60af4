import type { ProcessorCounters } from '../window/partition-processor.js';

const REDRAW_MS = 250;

/** A one-line progress display on a terminal's stderr; nothing when stderr is not a terminal. */
export function progressLine(stream: NodeJS.WriteStream = process.stderr) {
  const started = performance.now();
  let lastDraw = Number.NEGATIVE_INFINITY;
  return {
    update(counters: Readonly<ProcessorCounters>): void {
      if (!stream.isTTY) return;
      const now = performance.now();
      if (now - lastDraw < REDRAW_MS) return;
      lastDraw = now;
      const rate = Math.round(counters.events / ((now - started) / 1000));
      stream.write(
        `\r${counters.events.toLocaleString('en-US')} events  ${rate.toLocaleString('en-US')}/s  ` +
          `accepted ${counters.accepted}  duplicates ${counters.duplicates}  late ${counters.late}  invalid ${counters.invalid}`,
      );
    },
    done(): void {
      if (stream.isTTY && Number.isFinite(lastDraw)) stream.write('\n');
    },
  };
}
