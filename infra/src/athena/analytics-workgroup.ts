/**
 * The analysts' Athena workgroup (engine v3, enforced KMS-encrypted result location, per-query
 * bytes-scanned cutoff) and the named queries of queries.ts, saved in it against the lake database.
 */
import * as athena from 'aws-cdk-lib/aws-athena';
import { Construct } from 'constructs';
import type { LakeStorage } from '../lake/lake-storage.js';
import { NAMED_QUERIES } from './queries.js';

export interface AnalyticsWorkgroupProps {
  name: string;
  databaseName: string;
  storage: LakeStorage;
  bytesScannedCutoffPerQuery: number;
}

export class AnalyticsWorkgroup extends Construct {
  readonly workgroup: athena.CfnWorkGroup;
  readonly workgroupName: string;
  readonly namedQueries: athena.CfnNamedQuery[];

  constructor(scope: Construct, id: string, props: AnalyticsWorkgroupProps) {
    super(scope, id);
    this.workgroupName = props.name;
    this.workgroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: props.name,
      description: 'genai-pipeline lake queries',
      state: 'ENABLED',
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        // Users cannot point results elsewhere or skip encryption from their client settings.
        enforceWorkGroupConfiguration: true,
        bytesScannedCutoffPerQuery: props.bytesScannedCutoffPerQuery,
        publishCloudWatchMetricsEnabled: true,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${props.storage.resultsBucket.bucketName}/${props.storage.resultsPrefix}/`,
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: props.storage.key.keyArn },
        },
      },
    });
    this.namedQueries = NAMED_QUERIES.map((query) => {
      const named = new athena.CfnNamedQuery(this, `Query-${query.name}`, {
        name: query.name,
        description: query.description,
        database: props.databaseName,
        workGroup: props.name,
        queryString: query.sql,
      });
      named.node.addDependency(this.workgroup);
      return named;
    });
  }
}
