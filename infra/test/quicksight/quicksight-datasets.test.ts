import { LAKE_TABLES } from '@genai-pipeline/schemas';
import { describe, expect, it } from 'vitest';
import { datasetSql, QUICKSIGHT_TABLES, QUICKSIGHT_TYPES } from '../../src/quicksight/quicksight-datasets.js';
import { onlyResource, resourcesOf, synth } from '../support/synth.js';

const PRINCIPAL = 'arn:aws:quicksight:us-east-1:123456789012:group/default/analysts';

describe('QuickSight', () => {
  it('is absent unless quicksight=true', () => {
    const synthesized = synth();
    expect(synthesized.quickSight).toBeUndefined();
    expect(synthesized.app.node.children.map((child) => child.node.id)).not.toContain(
      'GenaiPipelineQuickSight',
    );
  });

  it('has an Athena data source on the workgroup and SPICE datasets with a refresh schedule', () => {
    const { quickSightTemplate } = synth({
      quicksight: 'true',
      quicksightPrincipalArn: PRINCIPAL,
      quicksightRefreshInterval: 'HOURLY',
      quicksightLookbackDays: '30',
    });
    if (quickSightTemplate === undefined) throw new Error('no QuickSight stack');
    quickSightTemplate.hasResourceProperties('AWS::QuickSight::DataSource', {
      Type: 'ATHENA',
      DataSourceParameters: { AthenaParameters: { WorkGroup: 'genai-pipeline' } },
    });
    const dataSets = Object.values(resourcesOf(quickSightTemplate, 'AWS::QuickSight::DataSet')).map(
      (dataSet) => dataSet.Properties,
    );
    expect(dataSets).toHaveLength(QUICKSIGHT_TABLES.length);
    for (const table of QUICKSIGHT_TABLES) {
      const dataSet = dataSets.find(
        (candidate) => candidate.DataSetId === `genai-pipeline-${table.replaceAll('_', '-')}`,
      );
      expect(dataSet?.ImportMode).toBe('SPICE');
      const tableMap = (dataSet?.PhysicalTableMap ?? {}) as Record<
        string,
        { CustomSql: { Columns: unknown; SqlQuery: string } }
      >;
      const physical = tableMap[table.replaceAll('_', '-')];
      expect(physical?.CustomSql.Columns).toEqual(
        LAKE_TABLES[table].columns.map((column) => ({
          Name: column.name,
          Type: QUICKSIGHT_TYPES[column.type],
        })),
      );
      expect(physical?.CustomSql.SqlQuery).toBe(datasetSql('genai_pipeline', table, 30));
      expect(dataSet?.Permissions).toEqual([
        { Principal: PRINCIPAL, Actions: expect.arrayContaining(['quicksight:DescribeDataSet']) },
      ]);
    }
    const schedules = Object.values(resourcesOf(quickSightTemplate, 'AWS::QuickSight::RefreshSchedule'));
    expect(schedules).toHaveLength(QUICKSIGHT_TABLES.length);
    for (const schedule of schedules) {
      expect(schedule.Properties.Schedule).toMatchObject({
        RefreshType: 'FULL_REFRESH',
        ScheduleFrequency: { Interval: 'HOURLY' },
      });
    }
  });

  it('has no refresh schedule in direct-query mode', () => {
    const { quickSightTemplate } = synth({
      quicksight: 'true',
      quicksightPrincipalArn: PRINCIPAL,
      quicksightImportMode: 'DIRECT_QUERY',
    });
    if (quickSightTemplate === undefined) throw new Error('no QuickSight stack');
    quickSightTemplate.resourceCountIs('AWS::QuickSight::RefreshSchedule', 0);
    quickSightTemplate.hasResourceProperties('AWS::QuickSight::DataSet', { ImportMode: 'DIRECT_QUERY' });
  });

  it('lets the QuickSight service role read the lake prefix and use the key, nothing broader', () => {
    const { quickSightTemplate } = synth({ quicksight: 'true', quicksightPrincipalArn: PRINCIPAL });
    if (quickSightTemplate === undefined) throw new Error('no QuickSight stack');
    const policy = onlyResource(quickSightTemplate, 'AWS::IAM::Policy');
    expect(policy.Roles).toEqual(['aws-quicksight-service-role-v0']);
    const statements = (policy.PolicyDocument as { Statement: { Action: string | string[] }[] }).Statement;
    for (const statement of statements) {
      for (const action of [statement.Action].flat()) expect(action).not.toMatch(/\*/);
    }
  });

  it('bounds every dataset query to recent dt partitions', () => {
    expect(datasetSql('db', 'anomalies', 7)).toBe(
      `SELECT ${LAKE_TABLES.anomalies.columns.map((column) => `"${column.name}"`).join(', ')} FROM "db"."anomalies" ` +
        `WHERE dt >= CAST(CAST(current_date - INTERVAL '7' DAY AS DATE) AS VARCHAR)`,
    );
  });
});
