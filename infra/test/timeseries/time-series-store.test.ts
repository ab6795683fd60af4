import type { CfnElement } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { resourcesOf, synth } from '../support/synth.js';

describe('time-series store', () => {
  it('timestream: a database and table with memory and magnetic retention, magnetic writes on', () => {
    const { pipelineTemplate } = synth({ timestreamMemoryHours: '12', timestreamMagneticDays: '90' });
    pipelineTemplate.hasResourceProperties('AWS::Timestream::Database', { DatabaseName: 'genai-pipeline' });
    pipelineTemplate.hasResourceProperties('AWS::Timestream::Table', {
      DatabaseName: 'genai-pipeline',
      TableName: 'rollups_1m',
      RetentionProperties: {
        MemoryStoreRetentionPeriodInHours: '12',
        MagneticStoreRetentionPeriodInDays: '90',
      },
      MagneticStoreWriteProperties: { EnableMagneticStoreWrites: true },
    });
    pipelineTemplate.resourceCountIs('AWS::Timestream::InfluxDBInstance', 0);
  });

  it('influxdb: a private instance whose admin password comes from a generated secret, reachable from the processor', () => {
    const { pipelineTemplate, pipeline } = synth({ timeseries: 'influxdb', influxStorageGiB: '40' });
    pipelineTemplate.resourceCountIs('AWS::Timestream::Table', 0);
    const [instance] = Object.values(resourcesOf(pipelineTemplate, 'AWS::Timestream::InfluxDBInstance'));
    expect(instance?.Properties).toMatchObject({
      AllocatedStorage: 40,
      DbInstanceType: 'db.influx.medium',
      PubliclyAccessible: false,
      Organization: 'genai',
      Bucket: 'genai-pipeline',
      Port: 8086,
    });
    // A CloudFormation dynamic reference, never a literal password in the template.
    expect(JSON.stringify(instance?.Properties.Password)).toContain('{{resolve:secretsmanager:');
    pipelineTemplate.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { GenerateStringKey: 'password', ExcludePunctuation: true, PasswordLength: 32 },
    });
    const processorGroup = pipeline.getLogicalId(
      pipeline.processor.service.connections.securityGroups[0]?.node.defaultChild as CfnElement,
    );
    pipelineTemplate.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 8086,
      ToPort: 8086,
      SourceSecurityGroupId: { 'Fn::GetAtt': [processorGroup, 'GroupId'] },
    });
  });

  it('none: no time-series resources and no Timestream permission', () => {
    const { pipelineTemplate } = synth({ timeseries: 'none' });
    pipelineTemplate.resourceCountIs('AWS::Timestream::Table', 0);
    pipelineTemplate.resourceCountIs('AWS::Timestream::InfluxDBInstance', 0);
    expect(JSON.stringify(pipelineTemplate.toJSON())).not.toContain('timestream:');
  });
});
