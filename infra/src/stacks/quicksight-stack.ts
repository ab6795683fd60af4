/** QuickSight over the lake; only with `-c quicksight=true` (needs a QuickSight subscription). */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { QuickSightSettings } from '../config.js';
import { QuickSightDatasets } from '../quicksight/quicksight-datasets.js';
import type { LakeStack } from './lake-stack.js';

export class QuickSightStack extends Stack {
  readonly datasets: QuickSightDatasets;

  constructor(
    scope: Construct,
    id: string,
    prefix: string,
    settings: QuickSightSettings,
    lake: LakeStack,
    props?: StackProps,
  ) {
    super(scope, id, props);
    this.datasets = new QuickSightDatasets(this, 'QuickSight', {
      settings,
      prefix,
      awsAccountId: this.account,
      workgroupName: lake.analytics.workgroupName,
      databaseName: lake.tables.databaseName,
      lake: lake.storage.ref(),
      athenaResults: { bucketArn: lake.storage.resultsBucket.bucketArn, prefix: lake.storage.resultsPrefix },
    });
  }
}
