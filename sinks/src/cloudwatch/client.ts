import {
  CloudWatchClient,
  type CloudWatchClientConfig,
  type MetricDatum,
  PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import { isRetriable, SinkRequestError } from '../util/retriable.js';

/** The one CloudWatch call the sink makes; a narrow seam so tests and the cost benchmark can stand in. */
export interface CloudWatchMetricsClient {
  putMetricData(namespace: string, datums: MetricDatum[]): Promise<void>;
}

/**
 * Options for the SDK client. Region, credentials and `AWS_ENDPOINT_URL[_CLOUDWATCH]` come from the SDK's
 * standard chain unless given here. Retries are the sink's (counted, under its circuit breaker), so the
 * SDK's own are off by default.
 */
export type SdkCloudWatchClientOptions = Pick<
  CloudWatchClientConfig,
  'region' | 'endpoint' | 'credentials' | 'requestHandler' | 'maxAttempts' | 'disableRequestCompression'
>;

/** PutMetricData over the real SDK client (AWS JSON 1.0, gzip bodies over 10 KB). */
export class SdkCloudWatchClient implements CloudWatchMetricsClient {
  private readonly client: CloudWatchClient;

  constructor(options: SdkCloudWatchClientOptions | CloudWatchClient = {}) {
    this.client =
      options instanceof CloudWatchClient ? options : new CloudWatchClient({ maxAttempts: 1, ...options });
  }

  async putMetricData(namespace: string, datums: MetricDatum[]): Promise<void> {
    try {
      await this.client.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: datums }));
    } catch (error) {
      throw toSinkError(error);
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}

/** Throttling, 5xx and network failures are retriable; InvalidParameterValue and the like never will be. */
export function toSinkError(error: unknown): SinkRequestError {
  const shape = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  const name = typeof shape.name === 'string' ? shape.name : 'Error';
  const status = shape.$metadata?.httpStatusCode;
  const message = typeof shape.message === 'string' ? shape.message : String(error);
  return new SinkRequestError(
    `CloudWatch PutMetricData failed: ${name}${typeof status === 'number' ? ` (HTTP ${status})` : ''}: ${message}`,
    isRetriable(error),
    { cause: error },
  );
}
