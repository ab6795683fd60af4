/**
 * The recent-series store, one of (context `timeseries`):
 * - `timestream`: a Timestream for LiveAnalytics database and table, memory and magnetic retention
 *   set, magnetic writes on (so late windows still land);
 * - `influxdb`: a Timestream for InfluxDB instance inside the VPC (private, port 8086); its admin
 *   password is generated into a Secrets Manager secret and handed to CloudFormation as a dynamic
 *   reference, so it never appears in the template. The processor's write token is a separate
 *   secret (`influxTokenSecretArn`) made with those admin credentials after the first deploy;
 * - `none`.
 */
import { Fn } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as timestream from 'aws-cdk-lib/aws-timestream';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config.js';

export const INFLUX_PORT = 8086;

export interface TimeSeriesStoreProps {
  config: InfraConfig;
  vpc: ec2.IVpc;
}

export interface TimestreamTarget {
  databaseName: string;
  tableName: string;
  tableArn: string;
}

export interface InfluxTarget {
  instance: timestream.CfnInfluxDBInstance;
  adminSecret: secretsmanager.Secret;
  securityGroup: ec2.SecurityGroup;
  url: string;
  organization: string;
  bucket: string;
}

export class TimeSeriesStore extends Construct {
  readonly timestream?: TimestreamTarget;
  readonly influx?: InfluxTarget;

  constructor(scope: Construct, id: string, props: TimeSeriesStoreProps) {
    super(scope, id);
    const { config } = props;
    if (config.timeSeries === 'timestream') {
      const databaseName = `${config.prefix}`;
      const database = new timestream.CfnDatabase(this, 'Database', { databaseName });
      const table = new timestream.CfnTable(this, 'Table', {
        databaseName,
        tableName: 'rollups_1m',
        retentionProperties: {
          MemoryStoreRetentionPeriodInHours: String(config.timestreamMemoryHours),
          MagneticStoreRetentionPeriodInDays: String(config.timestreamMagneticDays),
        },
        magneticStoreWriteProperties: { EnableMagneticStoreWrites: true },
      });
      table.node.addDependency(database);
      this.timestream = { databaseName, tableName: 'rollups_1m', tableArn: table.attrArn };
    }
    if (config.timeSeries === 'influxdb') {
      const securityGroup = new ec2.SecurityGroup(this, 'InfluxSecurityGroup', {
        vpc: props.vpc,
        description: 'Timestream for InfluxDB: reachable from the processor only',
        allowAllOutbound: false,
      });
      const adminSecret = new secretsmanager.Secret(this, 'InfluxAdmin', {
        description: 'Timestream for InfluxDB initial admin user',
        generateSecretString: {
          secretStringTemplate: JSON.stringify({ username: 'admin' }),
          generateStringKey: 'password',
          excludePunctuation: true,
          passwordLength: 32,
        },
      });
      const instance = new timestream.CfnInfluxDBInstance(this, 'Influx', {
        name: `${config.prefix}-influx`,
        dbInstanceType: config.influx.instanceType,
        dbStorageType: 'InfluxIOIncludedT1',
        allocatedStorage: config.influx.allocatedStorageGiB,
        deploymentType: 'SINGLE_AZ',
        publiclyAccessible: false,
        vpcSubnetIds: props.vpc.privateSubnets.slice(0, 1).map((subnet) => subnet.subnetId),
        vpcSecurityGroupIds: [securityGroup.securityGroupId],
        username: 'admin',
        // A dynamic reference ({{resolve:secretsmanager:...}}), resolved by CloudFormation at deploy.
        password: adminSecret.secretValueFromJson('password').unsafeUnwrap(),
        organization: config.influx.organization,
        bucket: config.influx.bucket,
        port: INFLUX_PORT,
      });
      this.influx = {
        instance,
        adminSecret,
        securityGroup,
        url: Fn.join('', ['https://', instance.attrEndpoint, `:${INFLUX_PORT}`]),
        organization: config.influx.organization,
        bucket: config.influx.bucket,
      };
    }
  }
}
