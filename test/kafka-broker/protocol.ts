/** What every API module shares: API keys, error codes and the shape of a request handler. */
import type { Reader, Writer } from './codec.js';

export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  ApiVersions: 18,
  CreateTopics: 19,
  InitProducerId: 22,
} as const;

/** The protocol's error codes this broker answers with. */
export const ErrorCode = {
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_TOPIC_EXCEPTION: 17,
  INVALID_REQUIRED_ACKS: 21,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_GROUP_ID: 24,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REQUEST: 42,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 43,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  INVALID_PRODUCER_EPOCH: 47,
  UNKNOWN_PRODUCER_ID: 59,
  MEMBER_ID_REQUIRED: 79,
  INVALID_RECORD: 87,
} as const;

export type ApiName = keyof typeof ApiKey;

export type Log = (message: string) => void;

export interface RequestContext {
  readonly version: number;
  readonly clientId: string | null;
  /** The request body, positioned after the header. */
  readonly request: Reader;
  /** Aborted when the client's connection closes, so waiting requests (fetch) let go of it. */
  readonly signal: AbortSignal;
  /**
   * A writer for the response body in this request's encoding (flexible or classic). From version
   * `throttleTimeFrom` on, the body starts with throttle_time_ms: 0, this broker never throttles.
   */
  responseWriter(throttleTimeFrom?: number): Writer;
  /** Fault injection: close this connection instead of sending the response. */
  dropConnectionInsteadOfResponding(): void;
}

export interface ApiHandler {
  /** Also gives the API key (ApiKey[name]), so the two cannot disagree. */
  readonly name: ApiName;
  /** The versions this broker implements and advertises in ApiVersions: all of minVersion..maxVersion. */
  readonly minVersion: number;
  readonly maxVersion: number;
  /** First flexible version (KIP-482) of this API, or undefined when no implemented version is flexible. */
  readonly flexibleFrom?: number;
  /** The response body, or null when the request gets no response (Produce with acks=0). */
  handle(context: RequestContext): Promise<Writer | null> | Writer | null;
}

/** A topic's entry in a request or response: its name and its partitions' entries. */
export interface TopicPartitions<T> {
  readonly name: string;
  readonly partitions: readonly T[];
}

/**
 * Reads a topic entry, `readPartition` reading each partition's entry (and, in flexible versions,
 * that entry's tagged fields when it is a struct); the topic's own tagged fields are skipped here.
 */
export function readTopic<T>(readPartition: (reader: Reader) => T): (reader: Reader) => TopicPartitions<T> {
  return (topic) => {
    const entry = { name: topic.string(), partitions: topic.array(readPartition) };
    topic.taggedFields();
    return entry;
  };
}

export function readTopics<T>(request: Reader, readPartition: (reader: Reader) => T): TopicPartitions<T>[] {
  return request.array(readTopic(readPartition));
}

/**
 * Writes the topics array of a response, `writePartition` filling each partition's struct; both
 * structs end with their (empty) tagged fields in flexible versions.
 */
export function writeTopics<T>(
  response: Writer,
  topics: readonly TopicPartitions<T>[],
  writePartition: (writer: Writer, partition: T, topic: string) => void,
): Writer {
  return response.array(topics, (topicWriter, topic) => {
    topicWriter.string(topic.name);
    topicWriter.array(topic.partitions, (writer, partition) => {
      writePartition(writer, partition, topic.name);
      writer.taggedFields();
    });
    topicWriter.taggedFields();
  });
}

export function isFlexible(handler: ApiHandler, version: number): boolean {
  return handler.flexibleFrom !== undefined && version >= handler.flexibleFrom;
}
