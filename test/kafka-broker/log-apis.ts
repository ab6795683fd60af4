/**
 * The data path: Produce (record batch v2, appended as received), Fetch (with max wait / min
 * bytes), ListOffsets and InitProducerId (producer ids for idempotent producers).
 */
import type { AppendResult, LogStore, PartitionLog } from './log-store.js';
import {
  type ApiHandler,
  ErrorCode,
  type Log,
  readTopics,
  type TopicPartitions,
  writeTopics,
} from './protocol.js';
import { InvalidBatchError, readSingleBatch } from './record-batch.js';

const EARLIEST_TIMESTAMP = -2n;
const LATEST_TIMESTAMP = -1n;
const NO_PREFERRED_REPLICA = -1;

export function logApis(store: LogStore, log: Log): ApiHandler[] {
  let nextProducerId = 1n;
  return [
    produceApi(store, log),
    fetchApi(store),
    listOffsetsApi(store),
    initProducerIdApi(log, () => nextProducerId++),
  ];
}

function produceApi(store: LogStore, log: Log): ApiHandler {
  const produceOne = (topic: string, index: number, records: Buffer | null, acks: number): AppendResult => {
    const partition = store.partition(topic, index);
    if (partition === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, baseOffset: -1 };
    if (acks !== 0 && acks !== 1 && acks !== -1)
      return { errorCode: ErrorCode.INVALID_REQUIRED_ACKS, baseOffset: -1 };
    if (records === null) return { errorCode: ErrorCode.CORRUPT_MESSAGE, baseOffset: -1 };
    try {
      const header = readSingleBatch(records);
      const result = store.append(partition, records, header);
      if (result.duplicate) {
        log(
          `duplicate batch from producer ${header.producerId} (sequence ${header.baseSequence}) in ` +
            `${topic}/${index}: acknowledged with its original offset ${result.baseOffset}`,
        );
      }
      return result;
    } catch (error) {
      if (!(error instanceof InvalidBatchError)) throw error;
      const errorCode = {
        corrupt: ErrorCode.CORRUPT_MESSAGE,
        'old-format': ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
        'not-one-batch': ErrorCode.INVALID_RECORD,
      }[error.reason];
      return { errorCode, baseOffset: -1 };
    }
  };
  return {
    name: 'Produce',
    // v3 is the first version carrying record batch v2, the only format this broker stores.
    minVersion: 3,
    maxVersion: 7,
    handle({ request, version, responseWriter }) {
      request.nullableString(); // transactional_id: transactions are not implemented
      const acks = request.int16();
      request.int32(); // timeout_ms: one replica, so every ack level is satisfied on append
      const topics = readTopics(request, (partition) => ({
        index: partition.int32(),
        records: partition.nullableBytes(),
      }));
      const results = topics.map(({ name, partitions }) => ({
        name,
        partitions: partitions.map(({ index, records }) => ({
          index,
          result: produceOne(name, index, records, acks),
          logStartOffset: store.partition(name, index)?.logStartOffset ?? -1,
        })),
      }));
      if (acks === 0) return null;
      const response = writeTopics(responseWriter(), results, (writer, partition) => {
        writer
          .int32(partition.index)
          .int16(partition.result.errorCode)
          .int64(BigInt(partition.result.baseOffset));
        writer.int64(-1n); // log_append_time_ms: -1, topics keep the producer's CreateTime
        if (version >= 5) writer.int64(BigInt(partition.logStartOffset));
      });
      return response.int32(0); // throttle_time_ms: Produce has it last
    },
  };
}

interface FetchPartitionRequest {
  index: number;
  fetchOffset: number;
  maxBytes: number;
}

interface FetchPartitionResult {
  index: number;
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  batches: Buffer[];
}

function fetchApi(store: LogStore): ApiHandler {
  const collect = (topics: TopicPartitions<FetchPartitionRequest>[], maxBytes: number) => {
    let bytes = 0;
    let hasError = false;
    const results = topics.map(({ name, partitions }) => ({
      name,
      partitions: partitions.map((request): FetchPartitionResult => {
        const partition = store.partition(name, request.index);
        // The first data in a response may exceed the response's max bytes (KIP-74), later data not.
        const room = bytes === 0 ? request.maxBytes : Math.min(request.maxBytes, maxBytes - bytes);
        const result = fetchPartition(partition, request, room);
        hasError ||= result.errorCode !== ErrorCode.NONE;
        for (const batch of result.batches) bytes += batch.length;
        return result;
      }),
    }));
    return { results, bytes, hasError };
  };
  return {
    name: 'Fetch',
    // v4 is the first version returning record batch v2 (and last stable offsets).
    minVersion: 4,
    maxVersion: 11,
    async handle({ request, version, responseWriter, signal }) {
      request.int32(); // replica_id: always a consumer here
      const maxWaitMs = request.int32();
      const minBytes = request.int32();
      const maxBytes = request.int32();
      request.int8(); // isolation_level: no transactions, so both levels read the same
      if (version >= 7) {
        // Incremental fetch sessions (KIP-227) are optional for brokers: answering session id 0
        // tells the client that every fetch is a full fetch.
        request.int32();
        request.int32();
      }
      const topics = readTopics(request, (partition): FetchPartitionRequest => {
        const index = partition.int32();
        if (version >= 9) partition.int32(); // current_leader_epoch: leadership never moves
        const fetchOffset = Number(partition.int64());
        if (version >= 5) partition.int64(); // the follower's log start offset
        return { index, fetchOffset, maxBytes: partition.int32() };
      });
      const deadline = Date.now() + maxWaitMs;
      let collected = collect(topics, maxBytes);
      while (collected.bytes < minBytes && !collected.hasError && Date.now() < deadline && !signal.aborted) {
        await appendOrDeadline(store, deadline, signal);
        collected = collect(topics, maxBytes);
      }
      const response = responseWriter(1);
      if (version >= 7) response.int16(ErrorCode.NONE).int32(0); // session id 0: no fetch session
      return writeTopics(response, collected.results, (writer, partition) => {
        writer.int32(partition.index).int16(partition.errorCode);
        writer.int64(BigInt(partition.highWatermark));
        writer.int64(BigInt(partition.highWatermark)); // last stable offset: no open transactions
        if (version >= 5) writer.int64(BigInt(partition.logStartOffset));
        writer.array([], () => {}); // aborted transactions
        if (version >= 11) writer.int32(NO_PREFERRED_REPLICA);
        writer.bytes(Buffer.concat(partition.batches));
      });
    },
  };
}

function fetchPartition(
  partition: PartitionLog | undefined,
  request: FetchPartitionRequest,
  maxBytes: number,
): FetchPartitionResult {
  if (partition === undefined) {
    return {
      index: request.index,
      errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      highWatermark: -1,
      logStartOffset: -1,
      batches: [],
    };
  }
  const { logStartOffset, nextOffset: highWatermark } = partition;
  const inRange = request.fetchOffset >= logStartOffset && request.fetchOffset <= highWatermark;
  return {
    index: request.index,
    errorCode: inRange ? ErrorCode.NONE : ErrorCode.OFFSET_OUT_OF_RANGE,
    highWatermark,
    logStartOffset,
    batches: inRange ? partition.read(request.fetchOffset, maxBytes) : [],
  };
}

/** Resolves on the next append to any partition, at the deadline, or when the client goes away. */
function appendOrDeadline(store: LogStore, deadline: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
    const unsubscribe = store.onAppend(done);
    signal.addEventListener('abort', done);
  });
}

function listOffsetsApi(store: LogStore): ApiHandler {
  return {
    name: 'ListOffsets',
    // v1 is the first version answering one offset with its timestamp.
    minVersion: 1,
    maxVersion: 3,
    handle({ request, version, responseWriter }) {
      request.int32(); // replica_id
      if (version >= 2) request.int8(); // isolation_level: last stable offset = high watermark
      const topics = readTopics(request, (partition) => ({
        index: partition.int32(),
        timestamp: partition.int64(),
      }));
      return writeTopics(responseWriter(2), topics, (writer, { index, timestamp }, topic) => {
        const partition = store.partition(topic, index);
        const found =
          partition === undefined
            ? undefined
            : timestamp === LATEST_TIMESTAMP
              ? { offset: partition.nextOffset, timestamp: -1n }
              : timestamp === EARLIEST_TIMESTAMP
                ? { offset: partition.logStartOffset, timestamp: -1n }
                : partition.offsetForTimestamp(timestamp);
        writer.int32(index).int16(found ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        writer.int64(found?.timestamp ?? -1n).int64(BigInt(found?.offset ?? -1));
      });
    },
  };
}

function initProducerIdApi(log: Log, allocateProducerId: () => bigint): ApiHandler {
  return {
    name: 'InitProducerId',
    minVersion: 0,
    maxVersion: 4,
    flexibleFrom: 2,
    handle({ request, version, responseWriter }) {
      const transactionalId = request.nullableString();
      request.int32(); // transaction_timeout_ms
      // v3+ may name the current producer id/epoch (KIP-360). For idempotent producers without a
      // transactional id Kafka hands out a fresh producer id every time, and so does this broker.
      if (version >= 3) {
        request.int64();
        request.int16();
      }
      const response = responseWriter(0);
      if (transactionalId !== null) {
        log(`InitProducerId for transactional id ${transactionalId}: transactions are not supported`);
        response.int16(ErrorCode.INVALID_REQUEST).int64(-1n).int16(-1);
      } else {
        response.int16(ErrorCode.NONE).int64(allocateProducerId()).int16(0);
      }
      return response.taggedFields();
    },
  };
}
