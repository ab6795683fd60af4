/**
 * Every knob of the app, read from CDK context (`-c key=value`, cdk.json or CDK_CONTEXT_JSON), with
 * defaults and validation. Context given on a command line arrives as strings, from cdk.json as
 * JSON values: both are accepted.
 */
import { DEFAULT_CLOUDWATCH_NAMESPACE } from '@genai-pipeline/schemas';

export type TimeSeriesBackend = 'timestream' | 'influxdb' | 'none';
export type QuickSightImportMode = 'SPICE' | 'DIRECT_QUERY';
export type SpiceRefreshInterval = 'HOURLY' | 'DAILY';

export interface MskSettings {
  clusterArn: string;
  bootstrapBrokers: string;
  topic: string;
  consumerGroup: string;
}

export interface ExistingVpcSettings {
  vpcId: string;
  availabilityZones: string[];
  privateSubnetIds: string[];
}

export interface QuickSightSettings {
  principalArn: string;
  importMode: QuickSightImportMode;
  refreshInterval: SpiceRefreshInterval;
  /** Days of lake partitions a dataset reads (keeps SPICE refreshes and direct queries bounded). */
  lookbackDays: number;
  /** The role QuickSight uses to reach Athena and S3 (set up by the QuickSight subscription). */
  serviceRoleName: string;
}

export interface InfluxDbSettings {
  instanceType: string;
  allocatedStorageGiB: number;
  organization: string;
  bucket: string;
  /** Secrets Manager secret holding an InfluxDB API token for the processor (created after the instance). */
  tokenSecretArn?: string;
}

export interface AlarmThresholds {
  hourlyCostUsd: number;
  dailyCostUsd: number;
  /** As a fraction: 0.05 = 5 %. */
  errorRate: number;
  /** An error-rate window is judged only from this many requests on, so one failure of two is no page. */
  errorRateMinRequests: number;
  latencyP95Ms: number;
  latencyAnomalyStdDevs: number;
  consumerLagMs: number;
  watermarkDelayMs: number;
  invalidDeadLettersPer5Min: number;
  lateDeadLettersPer5Min: number;
}

export interface InfraConfig {
  /** Prefix of every physical name (alarms, dashboards, tables' database, workgroup...). */
  prefix: string;
  env?: { account: string; region: string };
  namespace: string;
  lakePrefix: string;
  /** First `dt` partition projection enumerates. */
  lakeStartDate: string;
  lakeInfrequentAccessAfterDays: number;
  lakeGlacierInstantAfterDays: number;
  athenaBytesScannedCutoff: number;
  athenaResultsRetentionDays: number;
  kinesisRetentionHours: number;
  msk?: MskSettings;
  existingVpc?: ExistingVpcSettings;
  /** Registry URI of a prebuilt processor image; without it the image is built from infra/docker. */
  processorImage?: string;
  processorCpu: number;
  processorMemoryMiB: number;
  processorMinTasks: number;
  processorMaxTasks: number;
  /** With Kinesis: silence after which another task takes a task's shard leases (crash failover). */
  processorOwnershipTimeoutSeconds: number;
  logRetentionDays: number;
  timeSeries: TimeSeriesBackend;
  timestreamMemoryHours: number;
  timestreamMagneticDays: number;
  influx: InfluxDbSettings;
  quickSight?: QuickSightSettings;
  alarmEmail?: string;
  /** Services that get per-service alarms (CloudWatch alarms cannot use SEARCH to find them). */
  services: string[];
  /** Score names and the target line drawn on the quality widgets. */
  qualityTargets: Record<string, number>;
  thresholds: AlarmThresholds;
}

/** Reads one context key; returns undefined when unset or an empty string. */
export type ContextReader = (key: string) => unknown;

class ConfigError extends Error {
  constructor(key: string, rule: string) {
    super(`context "${key}": ${rule} (not retriable: fix the CDK context)`);
    this.name = 'ConfigError';
  }
}

function raw(read: ContextReader, key: string): unknown {
  const value = read(key);
  return value === '' || value === null ? undefined : value;
}

function str(read: ContextReader, key: string, fallback: string): string;
function str(read: ContextReader, key: string): string | undefined;
function str(read: ContextReader, key: string, fallback?: string): string | undefined {
  const value = raw(read, key);
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw new ConfigError(key, `must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function num(read: ContextReader, key: string, fallback: number, min = 0): number {
  const value = raw(read, key);
  if (value === undefined) return fallback;
  const parsed = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isFinite(parsed) || parsed < min) {
    throw new ConfigError(key, `must be a number >= ${min}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

function int(read: ContextReader, key: string, fallback: number, min = 0): number {
  const value = num(read, key, fallback, min);
  if (!Number.isInteger(value)) throw new ConfigError(key, `must be an integer, got ${value}`);
  return value;
}

function bool(read: ContextReader, key: string): boolean {
  const value = raw(read, key);
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new ConfigError(key, `must be true or false, got ${JSON.stringify(value)}`);
}

function list(read: ContextReader, key: string): string[] {
  const value = raw(read, key);
  if (value === undefined) return [];
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : undefined;
  if (items === undefined || items.some((item) => typeof item !== 'string')) {
    throw new ConfigError(key, 'must be a comma-separated string or a list of strings');
  }
  return (items as string[]).map((item) => item.trim()).filter((item) => item !== '');
}

function oneOf<T extends string>(read: ContextReader, key: string, allowed: readonly T[], fallback: T): T {
  const value = str(read, key, fallback);
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(key, `must be one of ${allowed.join(', ')}, got "${value}"`);
  }
  return value as T;
}

function qualityTargets(read: ContextReader): Record<string, number> {
  const entries = list(read, 'qualityTargets');
  const pairs = entries.length > 0 ? entries : ['faithfulness:0.8', 'relevancy:0.8', 'resolved:0.6'];
  const targets: Record<string, number> = {};
  for (const pair of pairs) {
    const [name, target] = pair.split(':');
    const value = Number(target);
    if (!name || target === undefined || !Number.isFinite(value)) {
      throw new ConfigError('qualityTargets', `entries are name:target, got "${pair}"`);
    }
    targets[name] = value;
  }
  return targets;
}

function msk(read: ContextReader): MskSettings | undefined {
  const clusterArn = str(read, 'mskClusterArn');
  if (clusterArn === undefined) return undefined;
  if (!/^arn:aws[a-z-]*:kafka:[^:]+:\d{12}:cluster\/[^/]+\/[^/]+$/.test(clusterArn)) {
    throw new ConfigError(
      'mskClusterArn',
      `must be an MSK cluster ARN (arn:aws:kafka:region:account:cluster/name/uuid)`,
    );
  }
  const bootstrapBrokers = str(read, 'mskBootstrapBrokers');
  if (bootstrapBrokers === undefined)
    throw new ConfigError('mskBootstrapBrokers', 'is required with mskClusterArn');
  return {
    clusterArn,
    bootstrapBrokers,
    topic: str(read, 'mskTopic', 'genai-events'),
    consumerGroup: str(read, 'mskConsumerGroup', 'genai-pipeline'),
  };
}

function existingVpc(read: ContextReader): ExistingVpcSettings | undefined {
  const vpcId = str(read, 'vpcId');
  if (vpcId === undefined) return undefined;
  const availabilityZones = list(read, 'vpcAvailabilityZones');
  const privateSubnetIds = list(read, 'vpcPrivateSubnetIds');
  if (availabilityZones.length === 0 || availabilityZones.length !== privateSubnetIds.length) {
    throw new ConfigError(
      'vpcPrivateSubnetIds',
      'with vpcId, give vpcAvailabilityZones and vpcPrivateSubnetIds, one subnet per zone',
    );
  }
  return { vpcId, availabilityZones, privateSubnetIds };
}

function quickSight(read: ContextReader): QuickSightSettings | undefined {
  if (!bool(read, 'quicksight')) return undefined;
  const principalArn = str(read, 'quicksightPrincipalArn');
  if (principalArn === undefined || !principalArn.startsWith('arn:')) {
    throw new ConfigError(
      'quicksightPrincipalArn',
      'is required with quicksight=true (a QuickSight user or group ARN that will own the data source and datasets)',
    );
  }
  return {
    principalArn,
    importMode: oneOf(read, 'quicksightImportMode', ['SPICE', 'DIRECT_QUERY'], 'SPICE'),
    refreshInterval: oneOf(read, 'quicksightRefreshInterval', ['HOURLY', 'DAILY'], 'DAILY'),
    lookbackDays: int(read, 'quicksightLookbackDays', 90, 1),
    serviceRoleName: str(read, 'quicksightServiceRoleName', 'aws-quicksight-service-role-v0'),
  };
}

/** The retention periods CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

function logRetentionDays(read: ContextReader): number {
  const days = int(read, 'logRetentionDays', 30, 1);
  if (!LOG_RETENTION_DAYS.includes(days)) {
    throw new ConfigError('logRetentionDays', `must be one of ${LOG_RETENTION_DAYS.join(', ')}, got ${days}`);
  }
  return days;
}

function env(read: ContextReader): InfraConfig['env'] {
  const account = str(read, 'account');
  const region = str(read, 'region');
  if (account === undefined && region === undefined) return undefined;
  if (account === undefined || !/^\d{12}$/.test(account)) {
    throw new ConfigError('account', 'must be a 12-digit account id when region is given');
  }
  if (region === undefined) throw new ConfigError('region', 'is required when account is given');
  return { account, region };
}

export function readConfig(read: ContextReader): InfraConfig {
  const prefix = str(read, 'prefix', 'genai-pipeline');
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(prefix)) {
    throw new ConfigError(
      'prefix',
      'must be lowercase letters, digits and dashes, starting with a letter, <= 31 chars',
    );
  }
  const lakePrefix = str(read, 'lakePrefix', 'lake');
  if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(lakePrefix)) {
    throw new ConfigError('lakePrefix', 'must be a key prefix without leading or trailing slash');
  }
  const lakeStartDate = str(read, 'lakeStartDate', '2024-01-01');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(lakeStartDate))
    throw new ConfigError('lakeStartDate', 'must be YYYY-MM-DD');
  const processorMinTasks = int(read, 'processorMinTasks', 1, 1);
  const processorMaxTasks = int(read, 'processorMaxTasks', 4, 1);
  if (processorMaxTasks < processorMinTasks) {
    throw new ConfigError('processorMaxTasks', `must be >= processorMinTasks (${processorMinTasks})`);
  }
  const services = list(read, 'services');
  if (services.some((service) => !/^[A-Za-z0-9._-]+$/.test(service))) {
    throw new ConfigError('services', 'names may hold letters, digits, dot, dash and underscore only');
  }
  const infrequentAccess = int(read, 'lakeInfrequentAccessAfterDays', 30, 30);
  const glacierInstant = int(read, 'lakeGlacierInstantAfterDays', 180, 1);
  if (glacierInstant < infrequentAccess + 30) {
    throw new ConfigError(
      'lakeGlacierInstantAfterDays',
      'must be at least 30 days after lakeInfrequentAccessAfterDays',
    );
  }
  return {
    prefix,
    env: env(read),
    namespace: str(read, 'namespace', DEFAULT_CLOUDWATCH_NAMESPACE),
    lakePrefix,
    lakeStartDate,
    lakeInfrequentAccessAfterDays: infrequentAccess,
    lakeGlacierInstantAfterDays: glacierInstant,
    athenaBytesScannedCutoff: int(read, 'athenaBytesScannedCutoff', 10 * 1024 ** 3, 10 * 1024 ** 2),
    athenaResultsRetentionDays: int(read, 'athenaResultsRetentionDays', 30, 1),
    kinesisRetentionHours: int(read, 'kinesisRetentionHours', 24, 24),
    msk: msk(read),
    existingVpc: existingVpc(read),
    processorImage: str(read, 'processorImage'),
    processorCpu: int(read, 'processorCpu', 1024, 256),
    processorMemoryMiB: int(read, 'processorMemoryMiB', 2048, 512),
    processorMinTasks,
    processorMaxTasks,
    // 30 s, the processor's own default: only a crash waits for it (a stopping task releases its leases at
    // once); and its DynamoDB requests time out after 10 s while renewals come every third of the
    // timeout, so below 20 s one stalled renewal would cost a healthy task its leases.
    processorOwnershipTimeoutSeconds: int(read, 'processorOwnershipTimeoutSeconds', 30, 20),
    logRetentionDays: logRetentionDays(read),
    timeSeries: oneOf(read, 'timeseries', ['timestream', 'influxdb', 'none'], 'timestream'),
    timestreamMemoryHours: int(read, 'timestreamMemoryHours', 24, 1),
    timestreamMagneticDays: int(read, 'timestreamMagneticDays', 365, 1),
    influx: {
      instanceType: str(read, 'influxInstanceType', 'db.influx.medium'),
      allocatedStorageGiB: int(read, 'influxStorageGiB', 20, 20),
      organization: str(read, 'influxOrganization', 'genai'),
      bucket: str(read, 'influxBucket', 'genai-pipeline'),
      tokenSecretArn: str(read, 'influxTokenSecretArn'),
    },
    quickSight: quickSight(read),
    alarmEmail: str(read, 'alarmEmail'),
    services,
    qualityTargets: qualityTargets(read),
    thresholds: {
      hourlyCostUsd: num(read, 'hourlyCostUsd', 50),
      dailyCostUsd: num(read, 'dailyCostUsd', 500),
      errorRate: num(read, 'errorRateThreshold', 0.05),
      errorRateMinRequests: int(read, 'errorRateMinRequests', 20),
      latencyP95Ms: num(read, 'latencyP95Ms', 10_000),
      latencyAnomalyStdDevs: num(read, 'latencyAnomalyStdDevs', 3, 0.1),
      consumerLagMs: num(read, 'consumerLagMs', 120_000),
      watermarkDelayMs: num(read, 'watermarkDelayMs', 300_000),
      invalidDeadLettersPer5Min: num(read, 'invalidDeadLettersPer5Min', 100),
      lateDeadLettersPer5Min: num(read, 'lateDeadLettersPer5Min', 1_000),
    },
  };
}
