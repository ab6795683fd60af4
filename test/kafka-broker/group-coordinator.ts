/**
 * The classic consumer-group coordinator (JoinGroup/SyncGroup protocol), following Kafka's
 * GroupCoordinator state machine:
 *
 *   Empty -> PreparingRebalance        a member joins
 *   PreparingRebalance -> Completing   every known member has (re)joined, or the rebalance timeout
 *                                      passed (members that did not rejoin are removed)
 *   CompletingRebalance -> Stable      the leader sent the assignments (SyncGroup)
 *   Stable/Completing -> Preparing     a member joins, leaves, changes its protocols, its session
 *                                      expires, or a test forces it
 *
 * Committed offsets live with the group and outlive its members. Static membership
 * (group.instance.id) is not implemented: such members are treated as dynamic ones.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, type Log } from './protocol.js';

type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

export interface GroupProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}

export interface JoinRequest {
  readonly groupId: string;
  /** '' for a member joining for the first time. */
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: readonly GroupProtocol[];
  /** JoinGroup v4+ (KIP-394): a new member first gets its id with MEMBER_ID_REQUIRED, then rejoins. */
  readonly requireKnownMemberId: boolean;
}

export interface JoinedMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly metadata: Buffer;
}

export interface JoinResult {
  readonly errorCode: number;
  readonly generationId: number;
  readonly protocolName: string;
  readonly leaderId: string;
  readonly memberId: string;
  /** All members with their metadata for the chosen protocol for the leader; empty for the others. */
  readonly members: readonly JoinedMember[];
}

export interface SyncResult {
  readonly errorCode: number;
  readonly assignment: Buffer;
}

export interface CommittedOffset {
  readonly offset: bigint;
  readonly metadata: string;
}

export interface OffsetToCommit extends CommittedOffset {
  readonly topic: string;
  readonly partition: number;
}

interface Member {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: readonly GroupProtocol[];
  assignment: Buffer;
  awaitingJoin?: (result: JoinResult) => void;
  awaitingSync?: (result: SyncResult) => void;
  sessionTimer?: NodeJS.Timeout;
}

class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName = '';
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** Ids handed out with MEMBER_ID_REQUIRED, each expiring after its session timeout. */
  readonly pendingMembers = new Map<string, NodeJS.Timeout>();
  rebalanceTimer?: NodeJS.Timeout;
  readonly offsets = new Map<string, Map<number, CommittedOffset>>();

  constructor(readonly groupId: string) {}
}

/** Kafka's group.min/max.session.timeout.ms are 6 s and 30 min; tests want short sessions to expire. */
const MIN_SESSION_TIMEOUT_MS = 1000;
const MAX_SESSION_TIMEOUT_MS = 30 * 60 * 1000;
const NO_ASSIGNMENT = Buffer.alloc(0);

function joinError(errorCode: number, memberId: string): JoinResult {
  return { errorCode, generationId: -1, protocolName: '', leaderId: '', memberId, members: [] };
}

function sameProtocols(a: readonly GroupProtocol[], b: readonly GroupProtocol[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (protocol, index) => protocol.name === b[index]?.name && protocol.metadata.equals(b[index].metadata),
    )
  );
}

/** setTimeout that never keeps the test process alive on its own. */
function timer(ms: number, action: () => void): NodeJS.Timeout {
  return setTimeout(action, ms).unref();
}

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();

  constructor(private readonly log: Log) {}

  private group(groupId: string): Group {
    let group = this.groups.get(groupId);
    if (!group) {
      group = new Group(groupId);
      this.groups.set(groupId, group);
    }
    return group;
  }

  join(request: JoinRequest): Promise<JoinResult> | JoinResult {
    if (request.groupId === '') return joinError(ErrorCode.INVALID_GROUP_ID, request.memberId);
    if (
      request.sessionTimeoutMs < MIN_SESSION_TIMEOUT_MS ||
      request.sessionTimeoutMs > MAX_SESSION_TIMEOUT_MS
    ) {
      return joinError(ErrorCode.INVALID_SESSION_TIMEOUT, request.memberId);
    }
    const group = this.group(request.groupId);
    if (!this.acceptsProtocols(group, request)) {
      return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, request.memberId);
    }
    if (request.memberId === '') {
      const memberId = `${request.clientId}-${randomUUID()}`;
      if (!request.requireKnownMemberId) return this.addMember(group, memberId, request);
      group.pendingMembers.set(
        memberId,
        timer(request.sessionTimeoutMs, () => {
          group.pendingMembers.delete(memberId);
          this.maybeCompleteJoin(group);
        }),
      );
      return joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId);
    }
    const pending = group.pendingMembers.get(request.memberId);
    if (pending) {
      clearTimeout(pending);
      group.pendingMembers.delete(request.memberId);
      return this.addMember(group, request.memberId, request);
    }
    const member = group.members.get(request.memberId);
    if (!member) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, request.memberId);
    return this.rejoin(group, member, request);
  }

  /** The group's protocol type must match, and some protocol must be supported by every member. */
  private acceptsProtocols(group: Group, request: JoinRequest): boolean {
    const others = [...group.members.values()].filter((member) => member.memberId !== request.memberId);
    if (others.length === 0) return request.protocols.length > 0;
    return (
      group.protocolType === request.protocolType &&
      request.protocols.some((protocol) =>
        others.every((member) => member.protocols.some((theirs) => theirs.name === protocol.name)),
      )
    );
  }

  private addMember(group: Group, memberId: string, request: JoinRequest): Promise<JoinResult> {
    const member: Member = {
      memberId,
      groupInstanceId: request.groupInstanceId,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      protocols: request.protocols,
      assignment: NO_ASSIGNMENT,
    };
    group.members.set(memberId, member);
    group.protocolType = request.protocolType;
    group.leaderId ??= memberId;
    this.log(`group ${group.groupId}: member ${memberId} joined`);
    const joined = this.awaitJoin(member);
    if (group.state === 'PreparingRebalance') this.maybeCompleteJoin(group);
    else this.prepareRebalance(group, `member ${memberId} joined`);
    return joined;
  }

  private rejoin(group: Group, member: Member, request: JoinRequest): Promise<JoinResult> {
    const protocolsChanged = !sameProtocols(member.protocols, request.protocols);
    member.protocols = request.protocols;
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    const joined = this.awaitJoin(member);
    if (group.state === 'PreparingRebalance') {
      this.maybeCompleteJoin(group);
    } else if (
      protocolsChanged ||
      // A rejoining leader may have seen metadata changes the others did not: reassign.
      (group.state === 'Stable' && member.memberId === group.leaderId)
    ) {
      const why = protocolsChanged ? 'rejoined with new metadata' : 'rejoined as leader';
      this.prepareRebalance(group, `member ${member.memberId} ${why}`);
    } else {
      // Nothing changed: the member gets the current generation again (the leader with the members).
      this.respondJoin(group, member);
    }
    return joined;
  }

  /** Registers the member's pending JoinGroup; an earlier one still pending (a retry) is superseded. */
  private awaitJoin(member: Member): Promise<JoinResult> {
    member.awaitingJoin?.(joinError(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId));
    return new Promise((resolve) => {
      member.awaitingJoin = resolve;
    });
  }

  private prepareRebalance(group: Group, reason: string): void {
    this.log(`group ${group.groupId}: rebalancing (${reason})`);
    if (group.state === 'CompletingRebalance') {
      for (const member of group.members.values()) this.respondSync(member, ErrorCode.REBALANCE_IN_PROGRESS);
    }
    group.state = 'PreparingRebalance';
    const rebalanceTimeoutMs = Math.max(0, ...[...group.members.values()].map((m) => m.rebalanceTimeoutMs));
    clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = timer(rebalanceTimeoutMs, () => this.completeJoin(group));
    this.maybeCompleteJoin(group);
  }

  private maybeCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance' || group.pendingMembers.size > 0) return;
    for (const member of group.members.values()) if (!member.awaitingJoin) return;
    this.completeJoin(group);
  }

  /** Ends the join phase: drops members that did not rejoin, starts the next generation. */
  private completeJoin(group: Group): void {
    clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = undefined;
    for (const member of [...group.members.values()]) {
      if (!member.awaitingJoin)
        this.removeMember(group, member, 'did not rejoin within the rebalance timeout');
    }
    group.generationId++;
    if (group.members.size === 0) {
      group.state = 'Empty';
      group.protocolType = null;
      group.protocolName = '';
      group.leaderId = null;
      this.log(`group ${group.groupId}: empty at generation ${group.generationId}`);
      return;
    }
    group.protocolName = this.chooseProtocol(group);
    if (group.leaderId === null || !group.members.has(group.leaderId)) {
      group.leaderId = group.members.keys().next().value ?? null;
    }
    group.state = 'CompletingRebalance';
    this.log(
      `group ${group.groupId}: generation ${group.generationId} with ${group.members.size} member(s), ` +
        `protocol ${group.protocolName}, leader ${group.leaderId}`,
    );
    for (const member of group.members.values()) {
      this.respondJoin(group, member);
      this.keepAlive(group, member);
    }
  }

  private respondJoin(group: Group, member: Member): void {
    const respond = member.awaitingJoin;
    member.awaitingJoin = undefined;
    const leaderId = group.leaderId ?? '';
    const members =
      member.memberId === leaderId
        ? [...group.members.values()].map((each) => ({
            memberId: each.memberId,
            groupInstanceId: each.groupInstanceId,
            metadata: each.protocols.find((p) => p.name === group.protocolName)?.metadata ?? NO_ASSIGNMENT,
          }))
        : [];
    respond?.({
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolName: group.protocolName,
      leaderId,
      memberId: member.memberId,
      members,
    });
  }

  /** Kafka's vote: each member picks its most preferred protocol that every member supports. */
  private chooseProtocol(group: Group): string {
    const members = [...group.members.values()];
    const votes = new Map<string, number>();
    for (const member of members) {
      const choice = member.protocols.find((protocol) =>
        members.every((other) => other.protocols.some((theirs) => theirs.name === protocol.name)),
      );
      if (choice) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1);
    }
    let winner = '';
    let most = 0;
    for (const [name, count] of votes) {
      if (count > most) [winner, most] = [name, count];
    }
    return winner;
  }

  sync(
    groupId: string,
    generationId: number,
    memberId: string,
    assignments: Map<string, Buffer>,
  ): Promise<SyncResult> | SyncResult {
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: NO_ASSIGNMENT };
    if (generationId !== group.generationId) {
      return { errorCode: ErrorCode.ILLEGAL_GENERATION, assignment: NO_ASSIGNMENT };
    }
    this.keepAlive(group, member);
    if (group.state === 'PreparingRebalance') {
      return { errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: NO_ASSIGNMENT };
    }
    if (group.state === 'Stable') return { errorCode: ErrorCode.NONE, assignment: member.assignment };
    this.respondSync(member, ErrorCode.REBALANCE_IN_PROGRESS);
    const synced = new Promise<SyncResult>((resolve) => {
      member.awaitingSync = resolve;
    });
    if (memberId === group.leaderId) {
      for (const each of group.members.values())
        each.assignment = assignments.get(each.memberId) ?? NO_ASSIGNMENT;
      group.state = 'Stable';
      this.log(`group ${group.groupId}: generation ${group.generationId} is stable`);
      for (const each of group.members.values()) this.respondSync(each, ErrorCode.NONE);
    }
    return synced;
  }

  private respondSync(member: Member, errorCode: number): void {
    const respond = member.awaitingSync;
    member.awaitingSync = undefined;
    respond?.({ errorCode, assignment: errorCode === ErrorCode.NONE ? member.assignment : NO_ASSIGNMENT });
  }

  heartbeat(groupId: string, generationId: number, memberId: string): number {
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.keepAlive(group, member);
    return group.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  /** Removes the members; answers each with NONE or UNKNOWN_MEMBER_ID. */
  leave(groupId: string, memberIds: readonly string[]): number[] {
    const group = this.groups.get(groupId);
    if (!group) return memberIds.map(() => ErrorCode.UNKNOWN_MEMBER_ID);
    const results = memberIds.map((memberId) => {
      const member = group.members.get(memberId);
      if (member) {
        this.removeMember(group, member, 'left the group');
        return ErrorCode.NONE;
      }
      const pending = group.pendingMembers.get(memberId);
      if (!pending) return ErrorCode.UNKNOWN_MEMBER_ID;
      clearTimeout(pending);
      group.pendingMembers.delete(memberId);
      return ErrorCode.NONE;
    });
    this.membershipChanged(group, 'member(s) left');
    return results;
  }

  private membershipChanged(group: Group, reason: string): void {
    if (group.state === 'PreparingRebalance') this.maybeCompleteJoin(group);
    else if (group.state !== 'Empty') this.prepareRebalance(group, reason);
  }

  private removeMember(group: Group, member: Member, reason: string): void {
    clearTimeout(member.sessionTimer);
    group.members.delete(member.memberId);
    if (group.leaderId === member.memberId) group.leaderId = null;
    member.awaitingJoin?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    member.awaitingJoin = undefined;
    this.respondSync(member, ErrorCode.UNKNOWN_MEMBER_ID);
    this.log(`group ${group.groupId}: member ${member.memberId} removed (${reason})`);
  }

  /**
   * Restarts the member's session timer. A member whose JoinGroup or SyncGroup is pending is not
   * expired (the coordinator owes it an answer), as in Kafka.
   */
  private keepAlive(group: Group, member: Member): void {
    clearTimeout(member.sessionTimer);
    member.sessionTimer = timer(member.sessionTimeoutMs, () => {
      if (group.members.get(member.memberId) !== member) return;
      if (member.awaitingJoin || member.awaitingSync) return this.keepAlive(group, member);
      this.removeMember(group, member, `session timeout of ${member.sessionTimeoutMs} ms expired`);
      this.membershipChanged(group, 'a session expired');
    });
  }

  /** Test fault: starts a rebalance, so members' next heartbeats answer REBALANCE_IN_PROGRESS. */
  forceRebalance(groupId: string): void {
    const group = this.groups.get(groupId);
    if (!group || group.state === 'Empty') throw new Error(`group ${groupId} has no members to rebalance`);
    if (group.state !== 'PreparingRebalance') this.prepareRebalance(group, 'forced by a test');
  }

  /**
   * Kafka's rules: a commit outside the group protocol (generation -1) is accepted only while the
   * group has no members; members commit in their current generation, not while it is being synced.
   */
  commitOffsets(
    groupId: string,
    generationId: number,
    memberId: string,
    offsets: readonly OffsetToCommit[],
  ): number {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const group = this.group(groupId);
    if (!(generationId < 0 && group.state === 'Empty')) {
      if (group.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
      const member = group.members.get(memberId);
      if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
      this.keepAlive(group, member);
    }
    for (const { topic, partition, offset, metadata } of offsets) {
      let partitions = group.offsets.get(topic);
      if (!partitions) {
        partitions = new Map();
        group.offsets.set(topic, partitions);
      }
      partitions.set(partition, { offset, metadata });
    }
    return ErrorCode.NONE;
  }

  /** The committed offset of one partition, if any. */
  committedOffset(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(groupId)?.offsets.get(topic)?.get(partition);
  }

  /** Every partition with a committed offset, by topic (OffsetFetch with a null topic list). */
  committedPartitions(groupId: string): Map<string, number[]> {
    const topics = new Map<string, number[]>();
    for (const [topic, partitions] of this.groups.get(groupId)?.offsets ?? []) {
      topics.set(topic, [...partitions.keys()]);
    }
    return topics;
  }

  close(): void {
    for (const group of this.groups.values()) {
      clearTimeout(group.rebalanceTimer);
      for (const pending of group.pendingMembers.values()) clearTimeout(pending);
      for (const member of group.members.values()) clearTimeout(member.sessionTimer);
    }
    this.groups.clear();
  }
}
