/**
 * Wire encoding of the group APIs (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * OffsetCommit, OffsetFetch); the decisions are the coordinator's.
 */

import type { GroupCoordinator, OffsetToCommit } from './group-coordinator.js';
import type { BrokerAddress } from './metadata-apis.js';
import { NODE_ID } from './metadata-apis.js';
import { type ApiHandler, ApiKey, ErrorCode } from './protocol.js';

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
    key: ApiKey.FindCoordinator,
    name: 'FindCoordinator',
    minVersion: 0,
    maxVersion: 2,
    // The only broker coordinates every group (key type 0) and transactional id (key type 1).
    handle({ version, responseWriter }) {
      const response = responseWriter();
      if (version >= 1) response.int32(0);
      response.int16(ErrorCode.NONE);
      if (version >= 1) response.nullableString(null);
      return response.int32(NODE_ID).string(address.host).int32(address.port());
    },
  };
}

function joinGroupApi(coordinator: GroupCoordinator): ApiHandler {
  return {
    key: ApiKey.JoinGroup,
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
      const response = responseWriter();
      if (version >= 2) response.int32(0);
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
    key: ApiKey.SyncGroup,
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
      const response = responseWriter();
      if (version >= 1) response.int32(0);
      return response.int16(result.errorCode).bytes(result.assignment);
    },
  };
}

function heartbeatApi(coordinator: GroupCoordinator): ApiHandler {
  return {
    key: ApiKey.Heartbeat,
    name: 'Heartbeat',
    minVersion: 0,
    maxVersion: 3,
    handle({ request, version, responseWriter }) {
      const groupId = request.string();
      const generationId = request.int32();
      const memberId = request.string();
      const response = responseWriter();
      if (version >= 1) response.int32(0);
      return response.int16(coordinator.heartbeat(groupId, generationId, memberId));
    },
  };
}

function leaveGroupApi(coordinator: GroupCoordinator): ApiHandler {
  return {
    key: ApiKey.LeaveGroup,
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
      const response = responseWriter();
      if (version >= 1) response.int32(0);
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
    key: ApiKey.OffsetCommit,
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
      const topics = request.array((topic) => {
        const name = topic.string();
        const partitions = topic.array((partition) => {
          const index = partition.int32();
          const offset = partition.int64();
          if (version >= 6) partition.int32(); // committed_leader_epoch
          if (version === 1) partition.int64(); // commit_timestamp
          return { index, offset, metadata: partition.nullableString() ?? '' };
        });
        return { name, partitions };
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
      const response = responseWriter();
      if (version >= 3) response.int32(0);
      return response.array(topics, (topicWriter, topic) => {
        topicWriter.string(topic.name);
        topicWriter.array(topic.partitions, (writer, partition) =>
          writer.int32(partition.index).int16(errorCode),
        );
      });
    },
  };
}

function offsetFetchApi(coordinator: GroupCoordinator): ApiHandler {
  return {
    key: ApiKey.OffsetFetch,
    name: 'OffsetFetch',
    minVersion: 1,
    maxVersion: 7,
    flexibleFrom: 6,
    handle({ request, version, responseWriter }) {
      const groupId = request.string();
      // A null topic list (v2+) asks for every partition the group committed.
      const requested = request.nullableArray((topic) => {
        const entry = { name: topic.string(), partitions: topic.array((partition) => partition.int32()) };
        topic.taggedFields();
        return entry;
      });
      const topics =
        requested ??
        [...coordinator.committedPartitions(groupId)].map(([name, partitions]) => ({ name, partitions }));
      const response = responseWriter();
      if (version >= 3) response.int32(0);
      response.array(topics, (topicWriter, topic) => {
        topicWriter.string(topic.name);
        topicWriter.array(topic.partitions, (writer, partition) => {
          const committed = coordinator.committedOffset(groupId, topic.name, partition);
          writer.int32(partition).int64(committed?.offset ?? -1n);
          if (version >= 5) writer.int32(NO_LEADER_EPOCH);
          writer
            .nullableString(committed?.metadata ?? '')
            .int16(ErrorCode.NONE)
            .taggedFields();
        });
        topicWriter.taggedFields();
      });
      if (version >= 2) response.int16(ErrorCode.NONE);
      return response.taggedFields();
    },
  };
}
