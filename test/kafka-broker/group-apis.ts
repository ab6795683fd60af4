/**
 * Wire encoding of the group APIs (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * OffsetCommit, OffsetFetch); the decisions are the coordinator's.
 */

import type { GroupCoordinator, OffsetToCommit } from './group-coordinator.js';
import type { BrokerAddress } from './metadata-apis.js';
import { NODE_ID } from './metadata-apis.js';
import { type ApiHandler, ErrorCode, readTopic, readTopics, writeTopics } from './protocol.js';

const NO_LEADER_EPOCH = -1;

export function groupApis(coordinator: GroupCoordinator, address: BrokerAddress): ApiHandler[] {
  return [
    findCoordinatorApi(address),
    joinGroupApi(coordinator),
    syncGroupApi(coordinator),
    heartbeatApi(coordinator),
    leaveGroupApi(coordinator),
    offsetCommitApi(coordinator),
    offsetFetchApi(coordinator),
  ];
}

function findCoordinatorApi(address: BrokerAddress): ApiHandler {
  return {
    name: 'FindCoordinator',
    minVersion: 0,
    maxVersion: 2,
    // The only broker coordinates every group (key type 0) and transactional id (key type 1).
    handle({ version, responseWriter }) {
      const response = responseWriter(1).int16(ErrorCode.NONE);
      if (version >= 1) response.nullableString(null); // error_message
      return response.int32(NODE_ID).string(address.host).int32(address.port());
    },
  };
}

function joinGroupApi(coordinator: GroupCoordinator): ApiHandler {
  return {
    name: 'JoinGroup',
    minVersion: 0,
    maxVersion: 5,
    async handle({ request, version, clientId, responseWriter }) {
      const groupId = request.string();
      const sessionTimeoutMs = request.int32();
      // v0 has no rebalance timeout: Kafka uses the session timeout for it.
      const rebalanceTimeoutMs = version >= 1 ? request.int32() : sessionTimeoutMs;
      const memberId = request.string();
      const groupInstanceId = version >= 5 ? request.nullableString() : null;
      const protocolType = request.string();
      const protocols = request.array((protocol) => ({
        name: protocol.string(),
        metadata: protocol.bytes(),
      }));
      const result = await coordinator.join({
        groupId,
        memberId,
        groupInstanceId,
        clientId: clientId ?? '',
        sessionTimeoutMs,
        rebalanceTimeoutMs,
        protocolType,
        protocols,
        requireKnownMemberId: version >= 4,
      });
      const response = responseWriter(2);
      response.int16(result.errorCode).int32(result.generationId).string(result.protocolName);
      response.string(result.leaderId).string(result.memberId);
      return response.array(result.members, (writer, member) => {
        writer.string(member.memberId);
        if (version >= 5) writer.nullableString(member.groupInstanceId);
        writer.bytes(member.metadata);
      });
    },
  };
}

function syncGroupApi(coordinator: GroupCoordinator): ApiHandler {
  return {
    name: 'SyncGroup',
    minVersion: 0,
    maxVersion: 3,
    async handle({ request, version, responseWriter }) {
      const groupId = request.string();
      const generationId = request.int32();
      const memberId = request.string();
      if (version >= 3) request.nullableString(); // group_instance_id: static membership is not implemented
      const assignments = new Map(
        request.array((assignment) => [assignment.string(), assignment.bytes()] as const),
      );
      const result = await coordinator.sync(groupId, generationId, memberId, assignments);
      return responseWriter(1).int16(result.errorCode).bytes(result.assignment);
    },
  };
}

function heartbeatApi(coordinator: GroupCoordinator): ApiHandler {
  return {
    name: 'Heartbeat',
    minVersion: 0,
    maxVersion: 3,
    handle({ request, responseWriter }) {
      const groupId = request.string();
      const generationId = request.int32();
      const memberId = request.string();
      return responseWriter(1).int16(coordinator.heartbeat(groupId, generationId, memberId));
    },
  };
}

function leaveGroupApi(coordinator: GroupCoordinator): ApiHandler {
  return {
    name: 'LeaveGroup',
    minVersion: 0,
    maxVersion: 3,
    handle({ request, version, responseWriter }) {
      const groupId = request.string();
      // v3 (KIP-345) leaves a batch of members; earlier versions one.
      const members =
        version >= 3
          ? request.array((member) => ({
              memberId: member.string(),
              groupInstanceId: member.nullableString(),
            }))
          : [{ memberId: request.string(), groupInstanceId: null }];
      const errorCodes = coordinator.leave(
        groupId,
        members.map((member) => member.memberId),
      );
      const results = members.map((member, index) => ({ ...member, errorCode: errorCodes[index] as number }));
      const response = responseWriter(1);
      if (version < 3) return response.int16(results[0]?.errorCode ?? ErrorCode.NONE);
      response.int16(ErrorCode.NONE);
      return response.array(results, (writer, member) => {
        writer.string(member.memberId).nullableString(member.groupInstanceId).int16(member.errorCode);
      });
    },
  };
}

function offsetCommitApi(coordinator: GroupCoordinator): ApiHandler {
  return {
    name: 'OffsetCommit',
    // v0 stored offsets in ZooKeeper; v1 is the first coordinator-based version.
    minVersion: 1,
    maxVersion: 7,
    handle({ request, version, responseWriter }) {
      const groupId = request.string();
      const generationId = request.int32();
      const memberId = request.string();
      if (version >= 7) request.nullableString(); // group_instance_id
      if (version >= 2 && version <= 4) request.int64(); // retention_time_ms: offsets never expire here
      const topics = readTopics(request, (partition) => {
        const index = partition.int32();
        const offset = partition.int64();
        if (version >= 6) partition.int32(); // committed_leader_epoch
        if (version === 1) partition.int64(); // commit_timestamp
        return { index, offset, metadata: partition.nullableString() ?? '' };
      });
      const offsets: OffsetToCommit[] = topics.flatMap((topic) =>
        topic.partitions.map(({ index, offset, metadata }) => ({
          topic: topic.name,
          partition: index,
          offset,
          metadata,
        })),
      );
      const errorCode = coordinator.commitOffsets(groupId, generationId, memberId, offsets);
      return writeTopics(responseWriter(3), topics, (writer, partition) =>
        writer.int32(partition.index).int16(errorCode),
      );
    },
  };
}

function offsetFetchApi(coordinator: GroupCoordinator): ApiHandler {
  return {
    name: 'OffsetFetch',
    minVersion: 1,
    maxVersion: 7,
    flexibleFrom: 6,
    handle({ request, version, responseWriter }) {
      const groupId = request.string();
      // A null topic list (v2+) asks for every partition the group committed.
      const requested = request.nullableArray(readTopic((partition) => partition.int32()));
      const topics =
        requested ??
        [...coordinator.committedPartitions(groupId)].map(([name, partitions]) => ({ name, partitions }));
      const response = writeTopics(responseWriter(3), topics, (writer, partition, topic) => {
        const committed = coordinator.committedOffset(groupId, topic, partition);
        writer.int32(partition).int64(committed?.offset ?? -1n);
        if (version >= 5) writer.int32(NO_LEADER_EPOCH);
        writer.nullableString(committed?.metadata ?? '').int16(ErrorCode.NONE);
      });
      if (version >= 2) response.int16(ErrorCode.NONE);
      return response.taggedFields();
    },
  };
}
