import { describe, expect, it } from 'vitest';
import { progressLine } from '../../src/cli/progress.js';

function stream(isTTY: boolean) {
  const written: string[] = [];
  return {
    written,
    stream: { isTTY, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream,
  };
}

const counters = { events: 1234, accepted: 1200, duplicates: 4, late: 10, invalid: 30 };

describe('progressLine', () => {
  it('draws one rewritable line on a terminal and ends it with a newline', () => {
    const { written, stream: tty } = stream(true);
    const progress = progressLine(tty);
    progress.update(counters);
    progress.update(counters); // within the redraw interval: not drawn again
    progress.done();
    expect(written).toHaveLength(2);
    expect(written[0]).toMatch(/^\r1,234 events .*accepted 1200 {2}duplicates 4 {2}late 10 {2}invalid 30$/);
    expect(written[1]).toBe('\n');
  });

  it('writes nothing when stderr is not a terminal (logs and CI stay clean)', () => {
    const { written, stream: pipe } = stream(false);
    const progress = progressLine(pipe);
    progress.update(counters);
    progress.done();
    expect(written).toEqual([]);
  });
});
