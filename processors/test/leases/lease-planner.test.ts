import { describe, expect, it } from 'vitest';
import { type LeasePlanInput, planLeases } from '../../src/leases/lease-planner.js';
import { LEASE_CHECKPOINT_SHARD_END, type ShardLease } from '../../src/leases/lease-table.js';
import { lease } from '../support/leases.js';

const ME = 'worker-me';

/** `count` leases named `<prefix>0…` owned by `owner` (undefined: free). */
function leases(prefix: string, count: number, owner?: string): ShardLease[] {
  return Array.from({ length: count }, (_, i) => lease(`${prefix}${i}`, { owner }));
}

/** A random source returning 0, 0.01, 0.02…: the leases keep the order they were given in. */
function inOrder(): () => number {
  let next = 0;
  return () => next++ / 100;
}

/** A random source returning `values` in turn. */
function sequence(...values: number[]): () => number {
  let next = 0;
  return () => values[next++ % values.length] as number;
}

function plan(input: Partial<LeasePlanInput> & { leases: readonly ShardLease[] }) {
  const result = planLeases({ worker: ME, expired: new Set(), random: inOrder(), ...input });
  return {
    take: result.take.map((l) => l.shardId),
    requestHandoff: result.requestHandoff?.shardId,
    target: result.target,
    held: result.held,
    workers: result.workers,
  };
}

describe('planLeases: taking', () => {
  it.each([
    {
      name: 'a lone worker takes every free lease',
      leases: leases('free', 4),
      expected: { take: ['free0', 'free1', 'free2', 'free3'], target: 4, held: 0, workers: 1 },
    },
    {
      name: 'three workers share four leases, the share rounded up',
      leases: [...leases('a', 1, 'worker-a'), ...leases('b', 1, 'worker-b'), ...leases('free', 2)],
      expected: { take: ['free0', 'free1'], target: 2, held: 0, workers: 3 },
    },
    {
      name: 'a worker takes free leases only up to its share',
      leases: [...leases('a', 1, 'worker-a'), ...leases('free', 3)],
      expected: { take: ['free0', 'free1'], target: 2, held: 0, workers: 2 },
    },
    {
      name: 'a worker holding more than its share takes nothing, even a free lease',
      leases: [...leases('me', 4, ME), ...leases('a', 1, 'worker-a'), ...leases('free', 1)],
      expected: { take: [], target: 3, held: 4, workers: 2 },
    },
    {
      name: 'a worker at its share takes nothing',
      leases: [...leases('me', 3, ME), ...leases('a', 1, 'worker-a'), ...leases('free', 2)],
      expected: { take: [], target: 3, held: 3, workers: 2 },
    },
    {
      name: 'no lease at all: nothing to do',
      leases: [],
      expected: { take: [], target: 0, held: 0, workers: 1 },
    },
    {
      name: 'only ended shards: nothing to do',
      leases: [lease('ended', { checkpoint: LEASE_CHECKPOINT_SHARD_END, owner: 'worker-a' })],
      expected: { take: [], target: 0, held: 0, workers: 1 },
    },
  ])('$name', ({ leases, expected }) => {
    expect(plan({ leases })).toEqual({ ...expected, requestHandoff: undefined });
  });

  it('counts expired leases as available and their owners as gone', () => {
    const result = plan({
      leases: [...leases('a', 2, 'worker-a'), ...leases('b', 2, 'worker-b')],
      expired: new Set(['a0', 'a1']),
    });
    // worker-a holds nothing live: two workers share four leases, worker-b's two are not free.
    expect(result).toEqual({ take: ['a0', 'a1'], requestHandoff: undefined, target: 2, held: 0, workers: 2 });
  });

  it("counts the worker's own expired lease as available, not held", () => {
    const result = plan({
      leases: [...leases('me', 2, ME), ...leases('a', 2, 'worker-a')],
      expired: new Set(['me1']),
    });
    expect(result).toEqual({ take: ['me1'], requestHandoff: undefined, target: 2, held: 1, workers: 2 });
  });

  it('prefers the leases released for it, then goes in random order', () => {
    const input = {
      leases: [
        ...leases('me', 2, ME),
        ...leases('a', 2, 'worker-a'),
        lease('free0'),
        lease('free1'),
        lease('free2', { pendingOwner: 'worker-a' }),
        lease('released', { pendingOwner: ME }),
      ],
    };
    // Eight leases, two workers: a share of four, two to take; free2 is kept for worker-a.
    expect(plan(input).take).toEqual(['released', 'free0']);
    expect(plan({ ...input, random: sequence(0.9, 0.1) }).take).toEqual(['released', 'free1']);
    // Once worker-a let the failover time pass without taking it, free2 is anyone's.
    const expired = new Set(['free2']);
    expect(plan({ ...input, expired, random: sequence(0.9, 0.5, 0.1) }).take).toEqual(['released', 'free2']);
  });

  it('leaves a lease released for another worker to it, and counts that worker in the shares', () => {
    // worker-a handed a3 over to worker-b, which holds nothing yet: worker-a must not take it back.
    const handedOver = [...leases('a', 3, 'worker-a'), lease('a3', { pendingOwner: 'worker-b' })];
    expect(plan({ worker: 'worker-a', leases: handedOver })).toMatchObject({
      take: [],
      requestHandoff: undefined,
      target: 2,
      held: 3,
      workers: 2,
    });
    expect(plan({ worker: 'worker-b', leases: handedOver })).toMatchObject({ take: ['a3'], held: 0 });
  });

  it('takes a lease released for it first, also from an expired owner', () => {
    const result = plan({
      leases: [
        ...leases('me', 1, ME),
        ...leases('a', 1, 'worker-a'),
        lease('free0'),
        lease('released', { owner: 'worker-gone', pendingOwner: ME }),
      ],
      expired: new Set(['released']),
    });
    expect(result).toEqual({ take: ['released'], requestHandoff: undefined, target: 2, held: 1, workers: 2 });
  });
});

describe('planLeases: parent shards', () => {
  const parent = (checkpoint: string) => lease('parent', { owner: 'worker-a', checkpoint });
  const child = lease('child', { parentShardIds: ['parent'] });

  it('keeps a child waiting until its parent is read to its end', () => {
    expect(plan({ leases: [parent('4960'), child] })).toEqual({
      take: [],
      requestHandoff: undefined,
      target: 1,
      held: 0,
      workers: 2,
    });
  });

  it('lets the child go once its parent is at SHARD_END, the parent no longer counting', () => {
    expect(plan({ leases: [parent(LEASE_CHECKPOINT_SHARD_END), child] })).toEqual({
      take: ['child'],
      requestHandoff: undefined,
      target: 1,
      held: 0,
      workers: 1,
    });
  });

  it('lets the child go when its parent lease is gone (the parent shard expired)', () => {
    expect(plan({ leases: [child] }).take).toEqual(['child']);
  });

  it('keeps a merged child waiting for both parents', () => {
    const merged = lease('merged', { parentShardIds: ['left', 'right'] });
    const left = lease('left', { checkpoint: LEASE_CHECKPOINT_SHARD_END });
    const right = (checkpoint: string) => lease('right', { checkpoint });
    expect(plan({ leases: [left, right('4960'), merged] }).take).toEqual(['right']);
    expect(plan({ leases: [left, right(LEASE_CHECKPOINT_SHARD_END), merged] }).take).toEqual(['merged']);
  });
});

describe('planLeases: asking for a lease', () => {
  it('asks the worker above its share for one', () => {
    const result = plan({ leases: [...leases('a', 3, 'worker-a'), ...leases('b', 1, 'worker-b')] });
    expect(result).toEqual({ take: [], requestHandoff: 'a0', target: 2, held: 0, workers: 3 });
  });

  it('asks even when it lacks only one, if the other is above its share', () => {
    const result = plan({ leases: [...leases('me', 1, ME), ...leases('a', 3, 'worker-a')] });
    expect(result).toMatchObject({ take: [], requestHandoff: 'a0', target: 2, held: 1 });
  });

  it('asks a worker at its share when it lacks more than one, the tie going to the lowest id', () => {
    const result = plan({ leases: [...leases('b', 2, 'worker-b'), ...leases('a', 2, 'worker-a')] });
    expect(result).toEqual({ take: [], requestHandoff: 'a0', target: 2, held: 0, workers: 3 });
  });

  it('does not ask a worker at its share when it lacks just one: they would only swap', () => {
    const result = plan({
      leases: [...leases('me', 1, ME), ...leases('a', 2, 'worker-a'), ...leases('b', 2, 'worker-b')],
    });
    expect(result).toEqual({ take: [], requestHandoff: undefined, target: 2, held: 1, workers: 3 });
  });

  it('asks only when nothing is left to take, judging by what it lacks after taking', () => {
    const above = plan({ leases: [...leases('a', 3, 'worker-a'), ...leases('free', 1)] });
    expect(above).toMatchObject({ take: ['free0'], requestHandoff: 'a0', target: 2 });
    // Lacking one after the free lease, it does not ask a worker at its share.
    const atShare = plan({
      leases: [...leases('a', 2, 'worker-a'), ...leases('b', 2, 'worker-b'), ...leases('free', 1)],
    });
    expect(atShare).toMatchObject({ take: ['free0'], requestHandoff: undefined, target: 2 });
    const enoughFree = plan({ leases: [...leases('a', 3, 'worker-a'), ...leases('free', 3)] });
    expect(enoughFree).toMatchObject({ take: ['free0', 'free1', 'free2'], requestHandoff: undefined });
  });

  it('does not ask for a lease someone already asked for, nor count it as its owner’s load', () => {
    const asked = [
      lease('a0', { owner: 'worker-a', pendingOwner: 'worker-x' }),
      ...leases('a', 3, 'worker-a').slice(1),
    ];
    // a0 would come first in this random order, were it not asked for already.
    const result = plan({ leases: asked, random: sequence(0.1, 0.9, 0.5) });
    // worker-x, waiting for a0, is a worker too: three workers, a share of one.
    expect(result).toMatchObject({ requestHandoff: 'a1', target: 1, held: 0, workers: 3 });
    // worker-a keeps 2 of its 3 once a0 is handed over: at the share, and we lack just one.
    const atShare = plan({
      leases: [
        ...leases('me', 1, ME),
        lease('a0', { owner: 'worker-a', pendingOwner: 'worker-x' }),
        ...leases('a', 3, 'worker-a').slice(1),
      ],
    });
    expect(atShare).toMatchObject({ requestHandoff: undefined, target: 2, held: 1 });
  });

  it('does not ask again while a lease it asked for is on its way', () => {
    const result = plan({
      leases: [lease('a0', { owner: 'worker-a', pendingOwner: ME }), ...leases('a', 3, 'worker-a').slice(1)],
    });
    // Without the request in flight it would ask: it lacks two and worker-a holds three.
    expect(plan({ leases: leases('a', 3, 'worker-a') }).requestHandoff).toBe('a0');
    expect(result).toMatchObject({ take: [], requestHandoff: undefined, target: 2, held: 0 });
  });

  it('never asks itself, even when it holds the most leases', () => {
    // The others' leases are all asked for already: only this worker's own are left to ask for.
    const result = plan({
      leases: [
        ...leases('me', 2, ME),
        ...['a0', 'a1', 'a2', 'a3'].map((id) => lease(id, { owner: 'worker-a', pendingOwner: 'worker-x' })),
        ...leases('free', 1),
      ],
    });
    expect(result).toEqual({ take: ['free0'], requestHandoff: undefined, target: 3, held: 2, workers: 3 });
  });
});
