import {
  type RejectedRecord,
  RejectedRecordsException,
  TimestreamWriteClient,
  type TimestreamWriteClientConfig,
  WriteRecordsCommand,
  type WriteRecordsRequest,
} from '@aws-sdk/client-timestream-write';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { isRetriable, SinkRequestError } from '../util/retriable.js';

/** The one call the sink needs, so tests and other transports can stand in for the SDK. */
export interface TimestreamWriter {
  /**
   * Resolves with the records Timestream rejected (the others were ingested: a RejectedRecordsException
   * is a partial success); rejects with a SinkRequestError that says whether it is retriable.
   */
  writeRecords(request: WriteRecordsRequest): Promise<{ rejected: RejectedRecord[] }>;
  close(): void;
}

export interface SdkTimestreamWriterOptions {
  region?: string | undefined;
  /** Endpoint override that keeps endpoint discovery (see below). */
  endpoint?: string | undefined;
  requestTimeoutMs: number;
  /** Default: the SDK's credential chain. */
  credentials?: TimestreamWriteClientConfig['credentials'];
}

const DISCOVERY_FAILED = 'The operation to discover endpoint failed';

/**
 * The real `TimestreamWriteClient`. Its writes need endpoint discovery: before the first WriteRecords
 * the SDK sends DescribeEndpoints (AWS JSON 1.0, `X-Amz-Target: Timestream_20181101.DescribeEndpoints`)
 * to the configured endpoint and then sends writes to the returned `Address` (the hostname only; the
 * scheme and port stay those of the configured endpoint), cached for `CachePeriodInMinutes`. The SDK
 * skips discovery when the client is given `endpoint`, so an override is given as an
 * `endpointProvider` instead; `AWS_ENDPOINT_URL_TIMESTREAM_WRITE` keeps discovery on by itself.
 * The SDK's own retries are off (`maxAttempts: 1`): SinkResilience is the one retry layer, so retries
 * are counted once and partial failures re-send only the failed records.
 */
export function sdkTimestreamWriter(options: SdkTimestreamWriterOptions): TimestreamWriter {
  const endpoint = options.endpoint;
  const client = new TimestreamWriteClient({
    ...(options.region !== undefined && { region: options.region }),
    ...(options.credentials !== undefined && { credentials: options.credentials }),
    ...(endpoint !== undefined && { endpointProvider: () => ({ url: new URL(endpoint) }) }),
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: options.requestTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
    }),
  });
  return {
    async writeRecords(request) {
      try {
        await client.send(new WriteRecordsCommand(request));
        return { rejected: [] };
      } catch (error) {
        if (error instanceof RejectedRecordsException && (error.RejectedRecords?.length ?? 0) > 0) {
          return { rejected: error.RejectedRecords ?? [] };
        }
        throw asSinkError(error);
      }
    },
    close() {
      client.destroy();
    },
  };
}

function asSinkError(error: unknown): SinkRequestError {
  if (error instanceof SinkRequestError) return error;
  const err = error instanceof Error ? error : new Error(String(error));
  // A failed discovery carries the DescribeEndpoints error as `reason`: retriable when that is.
  if (err.message.startsWith(DISCOVERY_FAILED)) {
    const reason = (err as Error & { reason?: unknown }).reason;
    const detail = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
    return new SinkRequestError(`Timestream endpoint discovery failed: ${detail}`, isRetriable(reason), {
      cause: error,
    });
  }
  return new SinkRequestError(
    `Timestream WriteRecords failed: ${err.name}: ${err.message}`,
    isRetriable(err),
    {
      cause: error,
    },
  );
}
