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

export type Log = (message: string) => void;

export interface RequestContext {
  readonly apiKey: number;
  readonly version: number;
  readonly clientId: string | null;
  /** The request body, positioned after the header. */
  readonly request: Reader;
  /** Aborted when the client's connection closes, so waiting requests (fetch) let go of it. */
  readonly signal: AbortSignal;
  /** A writer for the response body in this request's encoding (flexible or classic). */
  responseWriter(): Writer;
  /** Fault injection: close this connection instead of sending the response. */
  dropConnectionInsteadOfResponding(): void;
}

export interface ApiHandler {
  readonly key: number;
  readonly name: string;
  /** The versions this broker implements and advertises in ApiVersions: all of minVersion..maxVersion. */
  readonly minVersion: number;
  readonly maxVersion: number;
  /** First flexible version (KIP-482) of this API, or undefined when no implemented version is flexible. */
  readonly flexibleFrom?: number;
  /** The response body, or null when the request gets no response (Produce with acks=0). */
  handle(context: RequestContext): Promise<Writer | null> | Writer | null;
}

export function isFlexible(handler: ApiHandler, version: number): boolean {
  return handler.flexibleFrom !== undefined && version >= handler.flexibleFrom;
}
