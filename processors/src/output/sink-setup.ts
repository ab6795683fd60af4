import {
  CloudWatchSink,
  InfluxSink,
  type PipelineHealthReport,
  type PrunableLakeStore,
  parseS3LakeConfig,
  S3LakeStore,
  type SinkHealth,
  TimestreamSink,
  type WindowSink,
} from '@genai-pipeline/sinks';

/** The sinks of CONTRACT.md §5 and their options, as the command line or a config file gives them. */
export interface SinkOptions {
  /** Names from SINK_NAMES; the lake is always written (`--lake` is required), `lake` may be named too. */
  sinks: readonly string[];
  s3Uri?: string | undefined;
  /** Default GenAI/Pipeline. */
  cloudwatchNamespace?: string | undefined;
  timestreamDatabase?: string | undefined;
  timestreamTable?: string | undefined;
  influxUrl?: string | undefined;
  influxToken?: string | undefined;
  /** The v2 write API (Timestream for InfluxDB, InfluxDB 2.x); needs a token. */
  influxBucket?: string | undefined;
  /** InfluxDB 2.x organisation for the v2 API (Timestream for InfluxDB needs it too). */
  influxOrg?: string | undefined;
  /** The v1 `/write` API (InfluxDB 1.x and the 2.x compatibility endpoint). */
  influxDb?: string | undefined;
}

export const SINK_NAMES = ['lake', 's3', 'cloudwatch', 'timestream', 'influxdb'] as const;

const logTo = (sink: string) => (message: string) => process.stderr.write(`${sink}: ${message}\n`);

/** Every chosen sink, opened and checked, ready to take results. */
export interface OpenedSinks {
  /** Extra places the lake's files go to, beside the local lake. */
  lakeStores: PrunableLakeStore[];
  windowSinks: WindowSink[];
  /** Each sink's own health (sent, failed, retried, breaker, out_of_horizon...), for the end-of-run report. */
  health(): Record<string, SinkHealth>;
  /**
   * With the cloudwatch sink: queues the pipeline's own health metrics for its next flush; else
   * nothing. CloudWatch sums them, so `report` holds what happened since the previous call, and the
   * sinks' failures and breaker trips are sent the same way.
   */
  recordPipelineHealth(report: Omit<PipelineHealthReport, 'sinks'>): void;
  close(): Promise<void>;
}

function required(value: string | undefined, sink: string, option: string): string {
  if (value === undefined || value.trim() === '') throw new Error(`--sink ${sink} needs ${option}`);
  return value;
}

/** Opens the chosen sinks and checks each can be written before any input is read (fail fast). */
export async function openSinks(options: SinkOptions): Promise<OpenedSinks> {
  const unknown = options.sinks.filter((name) => !(SINK_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(`unknown sink ${unknown.join(', ')} (available: ${SINK_NAMES.join(', ')})`);
  }
  const chosen = new Set(options.sinks);
  const lakeStores: PrunableLakeStore[] = [];
  const windowSinks: WindowSink[] = [];
  const healthSources: Record<string, () => SinkHealth> = {};
  let cloudwatch: CloudWatchSink | undefined;
  const closers: (() => Promise<void> | void)[] = [];
  try {
    if (chosen.has('s3')) {
      const store = S3LakeStore.fromConfig(
        parseS3LakeConfig({ uri: required(options.s3Uri, 's3', '--s3-uri') }),
      );
      closers.push(() => store.destroy());
      await store.ensureWritable();
      lakeStores.push(store);
      healthSources.s3 = () => store.health();
    }
    if (chosen.has('cloudwatch')) {
      const sink = new CloudWatchSink({
        config: options.cloudwatchNamespace ? { namespace: options.cloudwatchNamespace } : {},
        log: logTo('cloudwatch'),
      });
      closers.push(() => sink.close());
      windowSinks.push(sink);
      healthSources.cloudwatch = () => sink.health();
      cloudwatch = sink;
    }
    if (chosen.has('timestream')) {
      const sink = new TimestreamSink({
        database: required(options.timestreamDatabase, 'timestream', '--timestream-database'),
        table: required(options.timestreamTable, 'timestream', '--timestream-table'),
      });
      closers.push(() => sink.close());
      windowSinks.push(sink);
      healthSources.timestream = () => sink.health();
    }
    if (chosen.has('influxdb')) {
      if (options.influxBucket === undefined && options.influxDb === undefined) {
        throw new Error('--sink influxdb needs --influx-bucket (v2 API) or --influx-db (v1 API)');
      }
      const sink = new InfluxSink({
        url: required(options.influxUrl, 'influxdb', '--influx-url'),
        ...(options.influxToken ? { token: options.influxToken } : {}),
        ...(options.influxBucket ? { bucket: options.influxBucket } : {}),
        ...(options.influxOrg ? { org: options.influxOrg } : {}),
        ...(options.influxDb ? { db: options.influxDb } : {}),
      });
      closers.push(() => sink.close());
      windowSinks.push(sink);
      healthSources.influxdb = () => sink.health();
    }
  } catch (error) {
    for (const close of closers) await close();
    throw error;
  }
  const health = () =>
    Object.fromEntries(Object.entries(healthSources).map(([name, read]) => [name, read()]));
  const reportedSinkHealth: Record<string, { failed: number; breakerTrips: number }> = {};
  return {
    lakeStores,
    windowSinks,
    health,
    recordPipelineHealth: (report) => {
      const sinks = Object.fromEntries(
        Object.entries(health()).map(([name, { failed, breakerTrips }]) => {
          const before = reportedSinkHealth[name] ?? { failed: 0, breakerTrips: 0 };
          reportedSinkHealth[name] = { failed, breakerTrips };
          return [name, { failed: failed - before.failed, breakerTrips: breakerTrips - before.breakerTrips }];
        }),
      );
      cloudwatch?.recordHealth({ ...report, sinks });
    },
    close: async () => {
      for (const close of closers) await close();
    },
  };
}
