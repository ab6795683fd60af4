/**
 * The Kafka test broker's group coordinator state machine, driven directly (with fake timers for
 * session and rebalance timeouts): the paths real clients only take when something goes wrong.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GroupCoordinator, type JoinRequest, type JoinResult } from './group-coordinator.js';
import { ErrorCode } from './protocol.js';

const GROUP = 'group';
let coordinator: GroupCoordinator;
let log: string[];

beforeEach(() => {
  vi.useFakeTimers();
  log = [];
  coordinator = new GroupCoordinator((message) => log.push(message));
});

afterEach(() => {
  coordinator.close();
  vi.useRealTimers();
});

function joinRequest(
  memberId: string,
  protocols: string[],
  overrides: Partial<JoinRequest> = {},
): JoinRequest {
  return {
    groupId: GROUP,
    memberId,
    groupInstanceId: null,
    clientId: 'client',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    protocolType: 'consumer',
    protocols: protocols.map((name) => ({ name, metadata: Buffer.from(`${memberId || 'new'}:${name}`) })),
    requireKnownMemberId: false,
    ...overrides,
  };
}

/** Tracks whether a promise settled, without awaiting it. */
function track<T>(promise: Promise<T> | T): { settled: () => boolean; value: Promise<T> } {
  let settled = false;
  const value = Promise.resolve(promise).finally(() => {
    settled = true;
  });
  return { settled: () => settled, value };
}

/** Flushes promise callbacks (no timers run). */
const microtasks = () => vi.advanceTimersByTimeAsync(0);

/** One member joined and synced alone: generation 1, Stable. */
async function stableGroupOfOne(): Promise<string> {
  const joined = await coordinator.join(joinRequest('', ['range', 'roundrobin']));
  expect(joined.errorCode).toBe(ErrorCode.NONE);
  const synced = await coordinator.sync(
    GROUP,
    joined.generationId,
    joined.memberId,
    new Map([[joined.memberId, Buffer.from('all')]]),
  );
  expect(synced).toEqual({ errorCode: ErrorCode.NONE, assignment: Buffer.from('all') });
  return joined.memberId;
}

describe('Kafka test broker group coordinator', () => {
  it('hands a new member its id with MEMBER_ID_REQUIRED (JoinGroup v4+), then admits it as leader', async () => {
    const first = (await coordinator.join(
      joinRequest('', ['range'], { requireKnownMemberId: true }),
    )) as JoinResult;
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect(first.memberId).toMatch(/^client-/);

    const joined = await coordinator.join(
      joinRequest(first.memberId, ['range'], { requireKnownMemberId: true }),
    );
    expect(joined).toMatchObject({
      errorCode: ErrorCode.NONE,
      generationId: 1,
      protocolName: 'range',
      leaderId: first.memberId,
    });
    expect(joined.members).toEqual([
      { memberId: first.memberId, groupInstanceId: null, metadata: Buffer.from(`${first.memberId}:range`) },
    ]);
  });

  it('rebalances when a member joins: the leader gets every member’s metadata, followers wait for its assignment', async () => {
    const leader = await stableGroupOfOne();
    const joiner = track(coordinator.join(joinRequest('', ['roundrobin'])));
    await microtasks();
    expect(joiner.settled()).toBe(false); // waits for the leader to rejoin
    expect(coordinator.heartbeat(GROUP, 1, leader)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);

    const leaderJoin = await coordinator.join(joinRequest(leader, ['range', 'roundrobin']));
    const follower = await joiner.value;
    // roundrobin is the only protocol both support.
    expect(leaderJoin).toMatchObject({ generationId: 2, protocolName: 'roundrobin', leaderId: leader });
    expect(leaderJoin.members.map((member) => member.metadata.toString())).toEqual([
      `${leader}:roundrobin`,
      'new:roundrobin',
    ]);
    expect(follower).toMatchObject({ generationId: 2, leaderId: leader, members: [] });

    const followerSync = track(coordinator.sync(GROUP, 2, follower.memberId, new Map()));
    await microtasks();
    expect(followerSync.settled()).toBe(false);
    const assignments = new Map([
      [leader, Buffer.from('p0')],
      [follower.memberId, Buffer.from('p1')],
    ]);
    expect(await coordinator.sync(GROUP, 2, leader, assignments)).toEqual({
      errorCode: ErrorCode.NONE,
      assignment: Buffer.from('p0'),
    });
    expect(await followerSync.value).toEqual({ errorCode: ErrorCode.NONE, assignment: Buffer.from('p1') });
    expect(coordinator.heartbeat(GROUP, 2, follower.memberId)).toBe(ErrorCode.NONE);
    expect(coordinator.heartbeat(GROUP, 1, follower.memberId)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(coordinator.heartbeat(GROUP, 2, 'stranger')).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('refuses a member with no protocol in common', async () => {
    await stableGroupOfOne();
    expect((await coordinator.join(joinRequest('', ['sticky']))).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    expect((await coordinator.join(joinRequest('', ['range'], { protocolType: 'connect' }))).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
  });

  it('checks generations and membership of offset commits, and keeps committed offsets', async () => {
    const member = await stableGroupOfOne();
    const offsets = [{ topic: 't', partition: 0, offset: 42n, metadata: 'm' }];
    expect(coordinator.commitOffsets(GROUP, 0, member, offsets)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(coordinator.commitOffsets(GROUP, 1, 'stranger', offsets)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    // Outside the group protocol (generation -1) only while the group has no members.
    expect(coordinator.commitOffsets(GROUP, -1, '', offsets)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(coordinator.committedOffset(GROUP, 't', 0)).toBeUndefined();
    expect(coordinator.commitOffsets(GROUP, 1, member, offsets)).toBe(ErrorCode.NONE);
    expect(coordinator.committedOffset(GROUP, 't', 0)).toEqual({ offset: 42n, metadata: 'm' });
    expect(coordinator.committedPartitions(GROUP)).toEqual(new Map([['t', [0]]]));

    // A forced rebalance: members may still commit in their generation until they rejoin.
    coordinator.forceRebalance(GROUP);
    expect(coordinator.heartbeat(GROUP, 1, member)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(coordinator.commitOffsets(GROUP, 1, member, [{ ...offsets[0], offset: 43n } as never])).toBe(
      ErrorCode.NONE,
    );
    await coordinator.join(joinRequest(member, ['range', 'roundrobin']));
    // Generation 2 is being synced: commits wait for it.
    expect(coordinator.commitOffsets(GROUP, 2, member, offsets)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(coordinator.commitOffsets(GROUP, 1, member, offsets)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);

    coordinator.leave(GROUP, [member]);
    expect(coordinator.commitOffsets(GROUP, -1, '', offsets)).toBe(ErrorCode.NONE);
    expect(coordinator.committedOffset(GROUP, 't', 0)?.offset).toBe(42n);
  });

  it('removes members that do not rejoin within the rebalance timeout', async () => {
    const stays = await stableGroupOfOne();
    // Its session outlasts the rebalance timeout: only the rebalance timeout can remove it.
    const lateJoin = track(coordinator.join(joinRequest('', ['range'], { sessionTimeoutMs: 60_000 })));
    const staysJoin = await coordinator.join(joinRequest(stays, ['range']));
    const late = await lateJoin.value;
    await Promise.all([
      coordinator.sync(GROUP, staysJoin.generationId, stays, new Map()),
      coordinator.sync(GROUP, late.generationId, late.memberId, new Map()),
    ]);

    coordinator.forceRebalance(GROUP);
    const rejoin = track(coordinator.join(joinRequest(stays, ['range'])));
    await microtasks();
    expect(rejoin.settled()).toBe(false); // waits for `late` until the rebalance timeout

    await vi.advanceTimersByTimeAsync(30_000);
    const result = await rejoin.value;
    expect(result.members.map((member) => member.memberId)).toEqual([stays]);
    expect(coordinator.heartbeat(GROUP, late.generationId, late.memberId)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(log.some((line) => line.includes('did not rejoin within the rebalance timeout'))).toBe(true);
  });

  it('expires a silent member after its session timeout and rebalances the rest', async () => {
    const quiet = await stableGroupOfOne();
    const chatty = track(coordinator.join(joinRequest('', ['range'], { sessionTimeoutMs: 60_000 })));
    const quietRejoin = await coordinator.join(joinRequest(quiet, ['range']));
    const chattyJoin = await chatty.value;
    await coordinator.sync(GROUP, quietRejoin.generationId, quiet, new Map());
    await coordinator.sync(GROUP, chattyJoin.generationId, chattyJoin.memberId, new Map());

    for (let second = 0; second < 12; second++) {
      await vi.advanceTimersByTimeAsync(1_000);
      const error = coordinator.heartbeat(GROUP, chattyJoin.generationId, chattyJoin.memberId);
      if (error !== ErrorCode.NONE) {
        expect(error).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
        break;
      }
    }
    expect(
      log.some((line) => line.includes(`member ${quiet} removed (session timeout of 10000 ms expired)`)),
    ).toBe(true);
    const alone = await coordinator.join(
      joinRequest(chattyJoin.memberId, ['range'], { sessionTimeoutMs: 60_000 }),
    );
    expect(alone.members.map((member) => member.memberId)).toEqual([chattyJoin.memberId]);
  });

  it('rebalances when a member leaves, and empties the group when the last one does', async () => {
    const first = await stableGroupOfOne();
    const second = track(coordinator.join(joinRequest('', ['range'])));
    const firstJoin = await coordinator.join(joinRequest(first, ['range']));
    const secondJoin = await second.value;
    await Promise.all([
      coordinator.sync(GROUP, firstJoin.generationId, first, new Map()),
      coordinator.sync(GROUP, secondJoin.generationId, secondJoin.memberId, new Map()),
    ]);

    expect(coordinator.leave(GROUP, [secondJoin.memberId, 'stranger'])).toEqual([
      ErrorCode.NONE,
      ErrorCode.UNKNOWN_MEMBER_ID,
    ]);
    expect(coordinator.heartbeat(GROUP, firstJoin.generationId, first)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const alone = await coordinator.join(joinRequest(first, ['range']));
    expect(alone.members.map((member) => member.memberId)).toEqual([first]);

    coordinator.leave(GROUP, [first]);
    expect(() => coordinator.forceRebalance(GROUP)).toThrow('has no members');
    expect(log.at(-1)).toMatch(/empty at generation/);
  });
});
