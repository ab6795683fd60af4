import type { LakeSink, WindowResults } from '@genai-pipeline/sinks';
import type { ProcessorOutput } from '../window/partition-processor.js';

/** Routes a partition's results into lake tables; ordinals are source offsets, or window starts for window results. */
export function lakeOutput(sink: LakeSink): ProcessorOutput {
  return {
    raw: (table, offset, row) => sink.append(table, offset, [row]),
    deadLetter: (offset, row) => sink.append('dead_letters', offset, [row]),
    windowClosed(window: WindowResults) {
      if (window.rollups.length > 0) sink.append('rollups_1m', window.windowStart, window.rollups);
      if (window.scoreRollups.length > 0)
        sink.append('score_rollups_1m', window.windowStart, window.scoreRollups);
      if (window.anomalies.length > 0) sink.append('anomalies', window.windowStart, window.anomalies);
    },
  };
}
