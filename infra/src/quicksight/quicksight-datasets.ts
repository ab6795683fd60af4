/**
 * QuickSight over the lake: an Athena data source (the analysts' workgroup) and one dataset per
 * table analysts chart (rollups_1m, score_rollups_1m, anomalies), owned by one principal. Datasets
 * read the last `lookbackDays` of partitions (custom SQL on `dt`, so refreshes and direct queries
 * stay bounded); in SPICE mode each gets a refresh schedule.
 */

import { type ColumnType, LAKE_TABLES, type LakeTableName } from '@genai-pipeline/schemas';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as quicksight from 'aws-cdk-lib/aws-quicksight';
import { Construct } from 'constructs';
import type { QuickSightSettings } from '../config.js';
import type { LakeStorageRef } from '../lake/lake-storage.js';

export const QUICKSIGHT_TABLES: readonly LakeTableName[] = ['rollups_1m', 'score_rollups_1m', 'anomalies'];

export const QUICKSIGHT_TYPES: Record<ColumnType, string> = {
  timestamp: 'DATETIME',
  int64: 'INTEGER',
  double: 'DECIMAL',
  string: 'STRING',
};

const DATA_SOURCE_ACTIONS = [
  'quicksight:DescribeDataSource',
  'quicksight:DescribeDataSourcePermissions',
  'quicksight:PassDataSource',
  'quicksight:UpdateDataSource',
  'quicksight:DeleteDataSource',
  'quicksight:UpdateDataSourcePermissions',
];
const DATA_SET_ACTIONS = [
  'quicksight:DescribeDataSet',
  'quicksight:DescribeDataSetPermissions',
  'quicksight:PassDataSet',
  'quicksight:DescribeIngestion',
  'quicksight:ListIngestions',
  'quicksight:UpdateDataSet',
  'quicksight:DeleteDataSet',
  'quicksight:CreateIngestion',
  'quicksight:CancelIngestion',
  'quicksight:UpdateDataSetPermissions',
];

export interface QuickSightDatasetsProps {
  settings: QuickSightSettings;
  prefix: string;
  awsAccountId: string;
  workgroupName: string;
  databaseName: string;
  lake: LakeStorageRef;
  athenaResults: { bucketArn: string; prefix: string };
}

export class QuickSightDatasets extends Construct {
  readonly dataSource: quicksight.CfnDataSource;
  readonly dataSets: Record<string, quicksight.CfnDataSet> = {};

  constructor(scope: Construct, id: string, props: QuickSightDatasetsProps) {
    super(scope, id);
    const { settings } = props;
    this.grantServiceRole(props);
    this.dataSource = new quicksight.CfnDataSource(this, 'Athena', {
      awsAccountId: props.awsAccountId,
      dataSourceId: `${props.prefix}-athena`,
      name: `${props.prefix} lake (Athena)`,
      type: 'ATHENA',
      dataSourceParameters: { athenaParameters: { workGroup: props.workgroupName } },
      sslProperties: { disableSsl: false },
      permissions: [{ principal: settings.principalArn, actions: DATA_SOURCE_ACTIONS }],
    });
    for (const table of QUICKSIGHT_TABLES) {
      const spec = LAKE_TABLES[table];
      const dataSetId = `${props.prefix}-${table.replaceAll('_', '-')}`;
      const columns = spec.columns.map((column) => ({
        name: column.name,
        type: QUICKSIGHT_TYPES[column.type],
      }));
      const dataSet = new quicksight.CfnDataSet(this, `DataSet-${table}`, {
        awsAccountId: props.awsAccountId,
        dataSetId,
        name: `${props.prefix} ${table}`,
        importMode: settings.importMode,
        // Map keys take letters, digits and dashes only.
        physicalTableMap: {
          [table.replaceAll('_', '-')]: {
            customSql: {
              dataSourceArn: this.dataSource.attrArn,
              name: table,
              sqlQuery: datasetSql(props.databaseName, table, settings.lookbackDays),
              columns,
            },
          },
        },
        permissions: [{ principal: settings.principalArn, actions: DATA_SET_ACTIONS }],
      });
      this.dataSets[table] = dataSet;
      if (settings.importMode === 'SPICE') {
        const schedule = new quicksight.CfnRefreshSchedule(this, `Refresh-${table}`, {
          awsAccountId: props.awsAccountId,
          dataSetId,
          schedule: {
            scheduleId: `${dataSetId}-refresh`,
            refreshType: 'FULL_REFRESH',
            scheduleFrequency: {
              interval: settings.refreshInterval,
              ...(settings.refreshInterval === 'DAILY' ? { timeOfTheDay: '02:00', timezone: 'UTC' } : {}),
            },
          },
        });
        schedule.node.addDependency(dataSet);
      }
    }
  }

  /** QuickSight queries Athena as its service role: read the lake, write Athena results, use the key. */
  private grantServiceRole(props: QuickSightDatasetsProps): void {
    const role = iam.Role.fromRoleName(this, 'ServiceRole', props.settings.serviceRoleName);
    new iam.Policy(this, 'LakeReadForQuickSight', {
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          actions: ['s3:GetObject'],
          resources: [`${props.lake.bucketArn}/${props.lake.lakePrefix}/*`],
        }),
        new iam.PolicyStatement({
          actions: ['s3:ListBucket', 's3:GetBucketLocation'],
          resources: [props.lake.bucketArn, props.athenaResults.bucketArn],
        }),
        new iam.PolicyStatement({
          actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'],
          resources: [`${props.athenaResults.bucketArn}/${props.athenaResults.prefix}/*`],
        }),
        new iam.PolicyStatement({
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [props.lake.keyArn],
        }),
      ],
    });
  }
}

/** The dataset's query: every column of the table, the last `days` of `dt` partitions. */
export function datasetSql(databaseName: string, table: LakeTableName, days: number): string {
  const columns = LAKE_TABLES[table].columns.map((column) => `"${column.name}"`).join(', ');
  return `SELECT ${columns} FROM "${databaseName}"."${table}" WHERE dt >= CAST(CAST(current_date - INTERVAL '${days}' DAY AS DATE) AS VARCHAR)`;
}
