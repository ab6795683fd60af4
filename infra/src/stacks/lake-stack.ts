/** The lake: storage, Glue tables with partition projection, the Athena workgroup and named queries. */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { AnalyticsWorkgroup } from '../athena/analytics-workgroup.js';
import type { InfraConfig } from '../config.js';
import { LakeTables } from '../lake/glue-tables.js';
import { LakeStorage } from '../lake/lake-storage.js';

export class LakeStack extends Stack {
  readonly storage: LakeStorage;
  readonly tables: LakeTables;
  readonly analytics: AnalyticsWorkgroup;

  constructor(scope: Construct, id: string, config: InfraConfig, props?: StackProps) {
    super(scope, id, props);
    this.storage = new LakeStorage(this, 'Storage', {
      prefix: config.prefix,
      lakePrefix: config.lakePrefix,
      infrequentAccessAfterDays: config.lakeInfrequentAccessAfterDays,
      glacierInstantAfterDays: config.lakeGlacierInstantAfterDays,
      athenaResultsRetentionDays: config.athenaResultsRetentionDays,
    });
    this.tables = new LakeTables(this, 'Tables', {
      // Glue/Athena database names take underscores, not dashes.
      databaseName: config.prefix.replaceAll('-', '_'),
      storage: this.storage,
      startDate: config.lakeStartDate,
    });
    this.analytics = new AnalyticsWorkgroup(this, 'Athena', {
      name: config.prefix,
      databaseName: this.tables.databaseName,
      storage: this.storage,
      bytesScannedCutoffPerQuery: config.athenaBytesScannedCutoff,
    });
    new CfnOutput(this, 'LakeUri', { value: this.storage.lakeUri() });
    new CfnOutput(this, 'GlueDatabase', { value: this.tables.databaseName });
    new CfnOutput(this, 'AthenaWorkgroup', { value: this.analytics.workgroupName });
  }
}
