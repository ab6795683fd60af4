/**
 * Cluster and topic APIs: Metadata (one broker, node 0, leader and only replica of every partition)
 * and CreateTopics. Topics are auto-created by Metadata when the broker allows it and the request
 * does (allow_auto_topic_creation, v4+; always allowed before v4, as in Kafka).
 */
import type { Writer } from './codec.js';
import { type LogStore, topicNameProblem } from './log-store.js';
import { type ApiHandler, ErrorCode, type Log } from './protocol.js';

export const NODE_ID = 0;
const CLUSTER_ID = 'genai-pipeline-test-broker';
/** Kafka's num.partitions default, used for auto-created topics and CreateTopics' -1. */
const DEFAULT_PARTITIONS = 1;

export interface BrokerAddress {
  readonly host: string;
  /** Known once the listener is up, which is before any request arrives. */
  port(): number;
}

export interface MetadataOptions {
  readonly autoCreateTopics: boolean;
  readonly log: Log;
}

export function metadataApis(
  store: LogStore,
  address: BrokerAddress,
  options: MetadataOptions,
): ApiHandler[] {
  return [metadataApi(store, address, options), createTopicsApi(store, options.log)];
}

function metadataApi(store: LogStore, address: BrokerAddress, options: MetadataOptions): ApiHandler {
  return {
    name: 'Metadata',
    minVersion: 1,
    maxVersion: 6,
    handle({ request, version, responseWriter }) {
      const requested = request.nullableArray((topic) => topic.string());
      const allowAutoCreate = version >= 4 ? request.boolean() : true;
      const names = requested ?? store.topicNames();
      const response = responseWriter(3);
      response.array([NODE_ID], (writer, nodeId) => {
        writer.int32(nodeId).string(address.host).int32(address.port()).nullableString(null);
      });
      if (version >= 2) response.nullableString(CLUSTER_ID);
      response.int32(NODE_ID);
      response.array(names, (writer, name) => {
        if (!store.hasTopic(name) && options.autoCreateTopics && allowAutoCreate && !topicNameProblem(name)) {
          store.createTopic(name, DEFAULT_PARTITIONS);
          options.log(`auto-created topic ${name} with ${DEFAULT_PARTITIONS} partition(s)`);
        }
        const partitions = store.partitionCount(name);
        const errorCode = topicNameProblem(name)
          ? ErrorCode.INVALID_TOPIC_EXCEPTION
          : partitions === 0
            ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
            : ErrorCode.NONE;
        writer.int16(errorCode).string(name).boolean(false);
        writer.array(
          Array.from({ length: partitions }, (_, index) => index),
          (partitionWriter, index) => writePartitionMetadata(partitionWriter, index, version),
        );
      });
      return response;
    },
  };
}

function writePartitionMetadata(writer: Writer, index: number, version: number): void {
  writer.int16(ErrorCode.NONE).int32(index).int32(NODE_ID);
  writer.array([NODE_ID], (nodes, nodeId) => nodes.int32(nodeId));
  writer.array([NODE_ID], (nodes, nodeId) => nodes.int32(nodeId));
  if (version >= 5) writer.array([], () => {});
}

interface TopicToCreate {
  name: string;
  numPartitions: number;
  replicationFactor: number;
  assignedPartitions: number;
}

function createTopicsApi(store: LogStore, log: Log): ApiHandler {
  return {
    name: 'CreateTopics',
    minVersion: 0,
    maxVersion: 3,
    handle({ request, version, responseWriter }) {
      const topics = request.array<TopicToCreate>((topic) => {
        const name = topic.string();
        const numPartitions = topic.int32();
        const replicationFactor = topic.int16();
        const assignments = topic.array((assignment) => {
          assignment.int32();
          return assignment.array((broker) => broker.int32());
        });
        topic.array((config) => [config.string(), config.nullableString()]);
        return { name, numPartitions, replicationFactor, assignedPartitions: assignments.length };
      });
      request.int32(); // timeout_ms: creation is immediate here
      const validateOnly = version >= 1 ? request.boolean() : false;
      const response = responseWriter(2);
      response.array(topics, (writer, topic) => {
        const { errorCode, message, partitions } = checkTopic(store, topic);
        if (errorCode === ErrorCode.NONE && !validateOnly) {
          store.createTopic(topic.name, partitions);
          log(`created topic ${topic.name} with ${partitions} partition(s)`);
        }
        writer.string(topic.name).int16(errorCode);
        if (version >= 1) writer.nullableString(message);
      });
      return response;
    },
  };
}

function checkTopic(
  store: LogStore,
  topic: TopicToCreate,
): { errorCode: number; message: string | null; partitions: number } {
  const partitions =
    topic.assignedPartitions > 0
      ? topic.assignedPartitions
      : topic.numPartitions === -1
        ? DEFAULT_PARTITIONS
        : topic.numPartitions;
  const nameProblem = topicNameProblem(topic.name);
  if (nameProblem) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, message: nameProblem, partitions };
  if (store.hasTopic(topic.name)) {
    return {
      errorCode: ErrorCode.TOPIC_ALREADY_EXISTS,
      message: `topic '${topic.name}' already exists`,
      partitions,
    };
  }
  if (partitions < 1) {
    return {
      errorCode: ErrorCode.INVALID_PARTITIONS,
      message: `number of partitions must be at least 1, got ${topic.numPartitions}`,
      partitions,
    };
  }
  if (topic.replicationFactor !== -1 && topic.replicationFactor !== 1) {
    return {
      errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
      message: `replication factor ${topic.replicationFactor} is larger than the 1 available broker`,
      partitions,
    };
  }
  return { errorCode: ErrorCode.NONE, message: null, partitions };
}
