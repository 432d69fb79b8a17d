/**
 * The shared lake stack: deployed once, used by every pipeline stack. The bucket
 * and databases are shared on purpose: a Glue database name is unique per account
 * and region, pipelines' views may join each other's tables, and the data must
 * outlive any one pipeline stack (`cdk destroy` of a pipeline keeps its data).
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DataLake, type DataLakeProps } from './data-lake';

export interface LakeStackProps extends StackProps {
  /** Options of the lake. @default DATA_LAKE_DEFAULTS */
  readonly lake?: DataLakeProps;
}

export class LakeStack extends Stack {
  public readonly lake: DataLake;

  constructor(scope: Construct, id: string, props: LakeStackProps = {}) {
    super(scope, id, props);
    this.lake = new DataLake(this, 'Lake', props.lake);
    new CfnOutput(this, 'LakeBucketName', { value: this.lake.bucket.bucketName, description: 'S3 bucket of the lake' });
    new CfnOutput(this, 'WorkgroupName', { value: this.lake.workgroupName, description: 'Athena workgroup' });
  }
}
