/**
 * The Glue database and one external table per lake table, columns straight from LAKE_TABLES, with
 * partition projection on `dt`/`hour` so Athena finds new partitions without a crawler or MSCK REPAIR.
 */

import { type ColumnType, LAKE_TABLES, type LakeTableName } from '@genai-pipeline/schemas';
import { Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import { Construct } from 'constructs';
import type { LakeStorage } from './lake-storage.js';

export const GLUE_TYPES: Record<ColumnType, string> = {
  timestamp: 'timestamp',
  int64: 'bigint',
  double: 'double',
  string: 'string',
};

export const PARTITION_KEYS = [
  { name: 'dt', type: 'string', comment: 'UTC date of the partition column, YYYY-MM-DD' },
  { name: 'hour', type: 'string', comment: 'UTC hour of the partition column, 00-23' },
] as const;

/** `${name}` as Athena's projection template expects it (kept out of a JS template literal on purpose). */
const placeholder = (name: string): string => `$\{${name}}`;

export interface LakeTablesProps {
  databaseName: string;
  storage: LakeStorage;
  /** First date the `dt` projection enumerates (YYYY-MM-DD). */
  startDate: string;
}

export class LakeTables extends Construct {
  readonly database: glue.CfnDatabase;
  readonly databaseName: string;
  readonly tables: Record<LakeTableName, glue.CfnTable>;

  constructor(scope: Construct, id: string, props: LakeTablesProps) {
    super(scope, id);
    this.databaseName = props.databaseName;
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Stack.of(this).account,
      databaseInput: {
        name: props.databaseName,
        description: 'genai-pipeline lake (CONTRACT.md section 4)',
      },
    });
    const tables = {} as Record<LakeTableName, glue.CfnTable>;
    for (const spec of Object.values(LAKE_TABLES)) {
      const location = props.storage.tableLocation(spec.name);
      const table = new glue.CfnTable(this, `Table-${spec.name}`, {
        catalogId: Stack.of(this).account,
        databaseName: props.databaseName,
        tableInput: {
          name: spec.name,
          description: `genai-pipeline ${spec.name}, partitioned by the UTC date and hour of ${spec.partitionBy}`,
          tableType: 'EXTERNAL_TABLE',
          parameters: {
            EXTERNAL: 'TRUE',
            classification: 'parquet',
            'parquet.compression': 'ZSTD',
            'projection.enabled': 'true',
            'projection.dt.type': 'date',
            'projection.dt.format': 'yyyy-MM-dd',
            'projection.dt.range': `${props.startDate},NOW`,
            'projection.dt.interval': '1',
            'projection.dt.interval.unit': 'DAYS',
            'projection.hour.type': 'integer',
            'projection.hour.range': '0,23',
            'projection.hour.digits': '2',
            'storage.location.template': `${location}/dt=${placeholder('dt')}/hour=${placeholder('hour')}`,
          },
          partitionKeys: PARTITION_KEYS.map((key) => ({ ...key })),
          storageDescriptor: {
            location: `${location}/`,
            columns: spec.columns.map((column) => ({ name: column.name, type: GLUE_TYPES[column.type] })),
            inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            serdeInfo: {
              serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
              parameters: { 'serialization.format': '1' },
            },
          },
        },
      });
      table.node.addDependency(this.database);
      tables[spec.name] = table;
    }
    this.tables = tables;
  }
}
