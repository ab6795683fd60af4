import { AVRO_TYPES, type LakeRow } from '@genai-pipeline/schemas';
import type { WindowResults } from '@genai-pipeline/sinks';
import { describe, expect, test } from 'vitest';
import { AnomalyDetector, type AnomalyFinding } from '../../src/anomaly/detector.js';
import { Pricer } from '../../src/pricing/pricer.js';
import {
  PartitionProcessor,
  type PartitionProcessorOptions,
  scorePolarity,
  serviceAndModelOfKey,
} from '../../src/window/partition-processor.js';
import { invocationEvent } from '../support/events.js';

const T0 = Date.UTC(2025, 5, 1, 12, 0);
const NOW = T0 + 24 * 3_600_000;

interface Recorded {
  raw: { table: string; offset: number; row: LakeRow }[];
  deadLetters: { offset: number; row: LakeRow }[];
  windows: WindowResults[];
}

function setup(options: Partial<PartitionProcessorOptions> = {}) {
  const recorded: Recorded = { raw: [], deadLetters: [], windows: [] };
  const processor = new PartitionProcessor({
    maxOutOfOrdernessMs: 30_000,
    pricer: new Pricer(new Map([['priced-model', { input: 1, output: 2 }]])),
    detector: new AnomalyDetector(),
    clock: () => NOW,
    output: {
      raw: (table, offset, row) => recorded.raw.push({ table, offset, row }),
      deadLetter: (offset, row) => recorded.deadLetters.push({ offset, row }),
      windowClosed: (window) => recorded.windows.push(window),
    },
    ...options,
  });
  let offset = 0;
  const send = (event: Record<string, unknown>) =>
    processor.process({ format: 'json', text: JSON.stringify(event) }, offset++);
  return {
    processor,
    recorded,
    send,
    sendText: (text: string) => processor.process({ format: 'json', text }, offset++),
  };
}

let sequence = 0;
const invocation = (eventTime: number, fields: Record<string, unknown> = {}) => ({
  event_id: `inv-${sequence++}`,
  event_time: eventTime,
  service: 'bot',
  provider: 'openai',
  model_id: 'priced-model',
  operation: 'chat',
  input_tokens: 1000,
  output_tokens: 500,
  latency_ms: 100,
  status: 'OK',
  ...fields,
});
/** An invocation with every field the Avro schema has, as a decoder would hand it over. */
const fullAvroInvocation = () => invocationEvent({ event_time: T0 });
const score = (eventTime: number, fields: Record<string, unknown> = {}) => ({
  kind: 'score',
  event_id: `score-${sequence++}`,
  event_time: eventTime,
  service: 'bot',
  model_id: 'priced-model',
  name: 'thumbs',
  value: 1,
  ...fields,
});

describe('PartitionProcessor', () => {
  test('invalid records become dead letters with the error and the raw payload; processing goes on', () => {
    const { processor, recorded, send, sendText } = setup();
    sendText('{not json');
    send(invocation(T0, { input_tokens: '12' }));
    send(invocation(T0));
    expect(processor.counters).toEqual({ events: 3, accepted: 1, duplicates: 0, late: 0, invalid: 2 });
    expect(recorded.deadLetters.map((d) => [d.offset, d.row.reason, d.row.received_at])).toEqual([
      [0, 'invalid', NOW],
      [1, 'invalid', NOW],
    ]);
    expect(recorded.deadLetters[0]?.row.payload).toBe('{not json');
    expect(recorded.deadLetters[1]?.row.error).toMatch(/input_tokens/);
  });

  test('the first copy of an id wins; duplicates of either kind are counted and dropped, not dead-lettered', () => {
    const { processor, recorded, send } = setup();
    send(invocation(T0, { event_id: 'same', input_tokens: 10 }));
    send(invocation(T0 + 1, { event_id: 'same', input_tokens: 99 }));
    send(score(T0 + 2, { event_id: 'same' }));
    processor.closeAll();
    expect(processor.counters).toMatchObject({ events: 3, accepted: 1, duplicates: 2 });
    expect(recorded.deadLetters).toEqual([]);
    expect(recorded.windows[0]?.rollups[0]?.input_tokens).toBe(10);
  });

  test('an id is accepted again once its first copy is more than 10 minutes behind the largest accepted time', () => {
    const { processor, send } = setup({ maxOutOfOrdernessMs: 3_600_000 });
    send(invocation(T0, { event_id: 'again' }));
    send(invocation(T0 + 600_000));
    send(invocation(T0 + 1, { event_id: 'again' }));
    expect(processor.counters.duplicates).toBe(1);
    send(invocation(T0 + 600_001));
    send(invocation(T0 + 2, { event_id: 'again' }));
    expect(processor.counters.duplicates).toBe(1);
  });

  test('a window closes exactly when the watermark reaches its end, and emits once', () => {
    const { processor, recorded, send } = setup();
    send(invocation(T0 + 10));
    send(invocation(T0 + 89_999));
    expect(recorded.windows).toEqual([]);
    expect(processor.watermark).toBe(T0 + 59_999);
    send(invocation(T0 + 90_000));
    expect(recorded.windows.map((w) => w.windowStart)).toEqual([T0]);
    expect(recorded.windows[0]?.rollups).toHaveLength(1);
    expect(recorded.windows[0]?.rollups[0]).toMatchObject({
      window_start: T0,
      window_end: T0 + 60_000,
      requests: 1,
    });
  });

  test('a late event is stored raw, dead-lettered once as late, counted, and kept out of rollups', () => {
    const { processor, recorded, send } = setup();
    send(invocation(T0 + 5_000));
    send(invocation(T0 + 95_000));
    send(invocation(T0 + 30_000, { event_id: 'late-one' }));
    send(score(T0 + 31_000, { event_id: 'late-score' }));
    processor.closeAll();
    expect(processor.counters).toEqual({ events: 4, accepted: 4, duplicates: 0, late: 2, invalid: 0 });
    expect(recorded.raw.map((r) => r.row.event_id)).toContain('late-one');
    expect(recorded.raw.map((r) => r.row.event_id)).toContain('late-score');
    expect(recorded.deadLetters.map((d) => [d.offset, d.row.reason])).toEqual([
      [2, 'late'],
      [3, 'late'],
    ]);
    const first = recorded.windows.find((w) => w.windowStart === T0);
    expect(first?.rollups[0]?.requests).toBe(1);
    expect(first?.scoreRollups).toEqual([]);
  });

  test('an out-of-order event inside the bound joins its still-open window', () => {
    const { processor, recorded, send } = setup();
    send(invocation(T0 + 70_000));
    send(invocation(T0 + 50_000));
    processor.closeAll();
    expect(processor.counters.late).toBe(0);
    expect(recorded.windows.map((w) => [w.windowStart, w.rollups[0]?.requests])).toEqual([
      [T0, 1],
      [T0 + 60_000, 1],
    ]);
  });

  test('closeAll closes every open window in event-time order', () => {
    const { processor, recorded, send } = setup({ maxOutOfOrdernessMs: 3_600_000 });
    send(invocation(T0 + 180_000));
    send(invocation(T0));
    send(invocation(T0 + 60_000));
    processor.closeAll();
    expect(recorded.windows.map((w) => w.windowStart)).toEqual([T0, T0 + 60_000, T0 + 180_000]);
  });

  test('raw invocation rows carry the computed cost; rollups count unpriced calls', () => {
    const { processor, recorded, send } = setup();
    send(invocation(T0, { cost_usd: 0.5 }));
    send(invocation(T0 + 1));
    send(invocation(T0 + 2, { model_id: 'nobody-prices-this' }));
    processor.closeAll();
    expect(recorded.raw.map((r) => r.row.cost_usd)).toEqual([0.5, (1000 * 1 + 500 * 2) / 1e6, 0]);
    const rows = recorded.windows[0]?.rollups ?? [];
    expect(rows.map((r) => [r.model_id, r.cost_usd, r.unpriced_requests])).toEqual([
      ['priced-model', 0.5 + 0.002, 0],
      ['nobody-prices-this', 0, 1],
    ]);
  });

  test('rollup keys are service, provider, model and tenant; score keys add the name', () => {
    const { processor, recorded, send } = setup();
    send(invocation(T0, { tenant_id: 'a' }));
    send(invocation(T0, { tenant_id: 'b' }));
    send(invocation(T0, { tenant_id: '' }));
    send(invocation(T0, { provider: 'azure.ai.openai' }));
    send(score(T0, { name: 'thumbs', value: -1 }));
    send(score(T0, { name: 'thumbs', value: 1 }));
    send(score(T0, { name: 'faithfulness', value: 0.5 }));
    processor.closeAll();
    const [window] = recorded.windows;
    expect(window?.rollups.map((r) => [r.provider, r.tenant_id, r.requests])).toEqual([
      ['openai', 'a', 1],
      ['openai', 'b', 1],
      ['openai', null, 1],
      ['azure.ai.openai', null, 1],
    ]);
    expect(window?.scoreRollups.map((r) => [r.name, r.count, r.sum, r.avg, r.min, r.max])).toEqual([
      ['thumbs', 2, 0, 0, -1, 1],
      ['faithfulness', 1, 0.5, 0.5, 0.5, 0.5],
    ]);
  });

  test('anomaly findings become rows keyed like their window; quality drops have no provider but a score name', () => {
    const finding: AnomalyFinding = {
      kind: 'token_spike',
      observed: 5,
      baseline: 1,
      score: 9,
      severity: 'warning',
    };
    const judged: { key: string; polarity?: string }[] = [];
    const { processor, recorded, send } = setup({
      detector: {
        judgeRollup: (key) => {
          judged.push({ key });
          return [finding];
        },
        judgeScore: (key, _obs, polarity) => {
          judged.push({ key, polarity });
          return [{ ...finding, kind: 'quality_drop' }];
        },
      },
    });
    send(invocation(T0, { tenant_id: 't' }));
    send(score(T0, { name: 'hallucination', value: 1 }));
    processor.closeAll();
    expect(recorded.windows[0]?.anomalies).toEqual([
      {
        window_start: T0,
        service: 'bot',
        provider: 'openai',
        model_id: 'priced-model',
        tenant_id: 't',
        kind: 'token_spike',
        score_name: null,
        observed: 5,
        baseline: 1,
        score: 9,
        severity: 'warning',
      },
      {
        window_start: T0,
        service: 'bot',
        provider: null,
        model_id: 'priced-model',
        tenant_id: null,
        kind: 'quality_drop',
        score_name: 'hallucination',
        observed: 5,
        baseline: 1,
        score: 9,
        severity: 'warning',
      },
    ]);
    expect(judged[1]?.polarity).toBe('lower_is_better');
  });

  test('score polarity: flags of bad outcomes are lower-is-better', () => {
    expect(scorePolarity('hallucination')).toBe('lower_is_better');
    expect(scorePolarity('faithfulness')).toBe('higher_is_better');
  });

  test('decoded Avro records are validated like JSON and dead-lettered as their Avro bytes in base64', () => {
    const { processor, recorded } = setup();
    const bad = AVRO_TYPES.invocation.fromBuffer(
      AVRO_TYPES.invocation.toBuffer({ ...fullAvroInvocation(), latency_ms: Number.NaN }),
    );
    processor.process({ format: 'avro', kind: 'invocation', record: bad }, 0);
    processor.process({ format: 'avro', kind: 'score', record: score(T0) }, 1);
    expect(processor.counters).toMatchObject({ accepted: 1, invalid: 1 });
    const payload = Buffer.from(recorded.deadLetters[0]?.row.payload as string, 'base64');
    expect(Number.isNaN(AVRO_TYPES.invocation.fromBuffer(payload).latency_ms)).toBe(true);
  });
});

describe('PartitionProcessor snapshots', () => {
  /** A seeded mix: out-of-order traffic, duplicates across the cut, late events, scores, invalid lines. */
  function workload(): string[] {
    let state = 12345;
    const random = () => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state / 2 ** 31;
    };
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const time = T0 + i * 250 - Math.floor(random() * 20_000);
      const id = random() < 0.03 && i > 10 ? `inv-${i - Math.floor(random() * 10) - 1}` : `inv-${i}`;
      if (i % 97 === 0) lines.push('{"broken": ');
      if (i % 211 === 0)
        lines.push(JSON.stringify(invocation(T0 + i * 250 - 200_000, { event_id: `late-${i}` })));
      lines.push(
        JSON.stringify(
          i % 5 === 0
            ? score(time, { event_id: `s-${i}`, value: random() })
            : invocation(time, {
                event_id: id,
                tenant_id: i % 3 ? `t${i % 4}` : null,
                latency_ms: 50 + random() * 2000,
                ttft_ms: i % 2 ? random() * 300 : null,
                status: random() < 0.05 ? 'ERROR' : 'OK',
                // A token spike late in the input, so anomaly history crosses the cut too.
                input_tokens: Math.floor(random() * 500) + (i > 2400 ? 50_000 : 1000),
              }),
        ),
      );
    }
    return lines;
  }

  function run(lines: string[], cutAt?: number) {
    const recorded: Recorded = { raw: [], deadLetters: [], windows: [] };
    const output = {
      raw: (table: 'invocations' | 'scores', offset: number, row: LakeRow) =>
        recorded.raw.push({ table, offset, row }),
      deadLetter: (offset: number, row: LakeRow) => recorded.deadLetters.push({ offset, row }),
      windowClosed: (window: WindowResults) => recorded.windows.push(window),
    };
    const options = () => ({
      maxOutOfOrdernessMs: 30_000,
      pricer: new Pricer(),
      detector: new AnomalyDetector({ minHistory: 2, minRequests: 1 }),
      clock: () => NOW,
      output,
    });
    let detector = options().detector;
    let processor = new PartitionProcessor({ ...options(), detector });
    for (const [offset, text] of lines.entries()) {
      if (offset === cutAt) {
        const checkpoint = JSON.parse(
          JSON.stringify({ partition: processor.snapshot(), detector: detector.snapshot() }),
        );
        detector = AnomalyDetector.restore(checkpoint.detector, { minHistory: 2, minRequests: 1 });
        processor = PartitionProcessor.restore(checkpoint.partition, { ...options(), detector });
      }
      processor.process({ format: 'json', text }, offset);
    }
    processor.closeAll();
    return { recorded, counters: processor.counters };
  }

  test('a processor restored from a JSON snapshot goes on exactly as the uninterrupted one', () => {
    const lines = workload();
    const whole = run(lines);
    expect(whole.counters.late).toBeGreaterThan(0);
    expect(whole.counters.duplicates).toBeGreaterThan(0);
    expect(whole.recorded.windows.some((w) => w.anomalies.length > 0)).toBe(true);
    for (const cut of [1, 777, 1500, 2999]) {
      const resumed = run(lines, cut);
      expect(resumed.counters).toEqual(whole.counters);
      expect(resumed.recorded).toEqual(whole.recorded);
    }
  });
});

describe('serviceAndModelOfKey', () => {
  test('gives back the service and model of every rollup and score key, whatever characters they hold', () => {
    const { processor, send } = setup();
    const names = [
      ['a|b', '3:x|y'],
      ['12:', '|'],
      ['-|', '0:|'],
      ['svc', 'model:v1|2'],
      ['7', '42'],
      ['ünïcødé ✓', 'm\u0000n'],
    ] as const;
    for (const [index, [service, model]] of names.entries()) {
      for (const tenant of [null, 't|1:', '-|']) {
        send(invocation(T0 + index, { service, model_id: model, provider: '9:|p', tenant_id: tenant }));
        send(score(T0 + index, { service, model_id: model, tenant_id: tenant, name: `|${index}:` }));
      }
    }
    const [window] = processor.snapshot().openWindows;
    expect(window?.rollups).toHaveLength(names.length * 3);
    expect(window?.scores).toHaveLength(names.length * 3);
    for (const [key, cell] of window?.rollups ?? []) {
      expect(serviceAndModelOfKey('rollup', key)).toEqual({ service: cell.service, modelId: cell.model_id });
    }
    for (const [key, cell] of window?.scores ?? []) {
      expect(serviceAndModelOfKey('score', key)).toEqual({ service: cell.service, modelId: cell.model_id });
    }
  });

  test('reads empty parts (length-prefixed keys) and refuses what is not a key', () => {
    // Keys as the processor builds them: each part `length:text|`, an absent one `-|`.
    expect(serviceAndModelOfKey('rollup', '0:|0:|0:|-|')).toEqual({ service: '', modelId: '' });
    expect(serviceAndModelOfKey('score', '1:s|0:|-|1:n|')).toEqual({ service: 's', modelId: '' });
    expect(() => serviceAndModelOfKey('rollup', 'svc/model')).toThrow(/not a window key/);
    // A rollup key whose model part is absent is not a rollup key.
    expect(() => serviceAndModelOfKey('rollup', '1:s|1:p|-|-|')).toThrow(/not a rollup key/);
  });
});
