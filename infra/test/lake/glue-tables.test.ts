import { LAKE_TABLES } from '@genai-pipeline/schemas';
import { beforeAll, describe, expect, it } from 'vitest';
import { GLUE_TYPES } from '../../src/lake/glue-tables.js';
import { joined, resourcesOf, type Synthesized, synth } from '../support/synth.js';

interface TableInput {
  Name: string;
  TableType: string;
  Parameters: Record<string, unknown>;
  PartitionKeys: { Name: string; Type: string }[];
  StorageDescriptor: {
    Location: unknown;
    Columns: { Name: string; Type: string }[];
    InputFormat: string;
    OutputFormat: string;
    SerdeInfo: { SerializationLibrary: string };
  };
}

let synthesized: Synthesized;
let tables: TableInput[];
beforeAll(() => {
  synthesized = synth({ lakeStartDate: '2025-03-01' });
  tables = Object.values(resourcesOf(synthesized.lakeTemplate, 'AWS::Glue::Table')).map(
    (table) => table.Properties.TableInput as TableInput,
  );
});

describe('Glue tables', () => {
  it('has one table per lake table, in one database', () => {
    expect(tables.map((table) => table.Name).sort()).toEqual(Object.keys(LAKE_TABLES).sort());
    synthesized.lakeTemplate.resourceCountIs('AWS::Glue::Database', 1);
    synthesized.lakeTemplate.hasResourceProperties('AWS::Glue::Database', {
      DatabaseInput: { Name: 'genai_pipeline' },
    });
  });

  it('has exactly the LAKE_TABLES columns, in order, with the Glue types of their Parquet types', () => {
    for (const table of tables) {
      const spec = LAKE_TABLES[table.Name as keyof typeof LAKE_TABLES];
      expect(table.StorageDescriptor.Columns).toEqual(
        spec.columns.map((column) => ({ Name: column.name, Type: GLUE_TYPES[column.type] })),
      );
    }
    expect(GLUE_TYPES).toEqual({
      timestamp: 'timestamp',
      int64: 'bigint',
      double: 'double',
      string: 'string',
    });
  });

  it('is partitioned by dt and hour strings and reads Parquet', () => {
    for (const table of tables) {
      expect(table.PartitionKeys.map(({ Name, Type }) => ({ Name, Type }))).toEqual([
        { Name: 'dt', Type: 'string' },
        { Name: 'hour', Type: 'string' },
      ]);
      expect(table.TableType).toBe('EXTERNAL_TABLE');
      expect(table.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe(
        'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
      );
      expect(table.StorageDescriptor.InputFormat).toBe(
        'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
      );
      expect(table.StorageDescriptor.OutputFormat).toBe(
        'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
      );
    }
  });

  it('projects dt (daily dates from the start date) and hour (00-23), so no crawler or MSCK is needed', () => {
    for (const table of tables) {
      expect(table.Parameters).toMatchObject({
        'projection.enabled': 'true',
        'projection.dt.type': 'date',
        'projection.dt.format': 'yyyy-MM-dd',
        'projection.dt.range': '2025-03-01,NOW',
        'projection.dt.interval': '1',
        'projection.dt.interval.unit': 'DAYS',
        'projection.hour.type': 'integer',
        'projection.hour.range': '0,23',
        'projection.hour.digits': '2',
      });
    }
  });

  it('templates each partition location as <lake>/<table>/dt=<dt>/hour=<hour> in the lake bucket', () => {
    for (const table of tables) {
      const template = joined(table.Parameters['storage.location.template']);
      expect(template).toBe(`s3://<token>/lake/${table.Name}/dt=$\{dt}/hour=$\{hour}`);
      expect(joined(table.StorageDescriptor.Location)).toBe(`s3://<token>/lake/${table.Name}/`);
      const parts = (table.Parameters['storage.location.template'] as { 'Fn::Join': [string, unknown[]] })[
        'Fn::Join'
      ][1];
      expect(parts).toContainEqual({ Ref: expect.stringMatching(/^StorageLake/) });
    }
  });
});
