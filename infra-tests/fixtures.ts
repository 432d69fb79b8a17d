/** Pipelines for infra tests beyond the two shipped examples. */
import { count, definePipeline, field, kinesisSource, tumbling, type PipelineInput } from '../core';

export const baseInput: PipelineInput = {
  name: 'orders',
  source: kinesisSource({ stream: 'orders-events', shards: 'on-demand' }),
  schema: { order_id: 'string', category: 'string', amount: 'double', ts: 'timestamp' },
  eventTime: 'ts',
  filter: field('category').in(['books', 'games']),
  aggregate: { groupBy: ['category'], window: tumbling('1 minute'), measures: { orders: count() }, view: 'orders_by_category_1m' },
  processing: { batchSize: 500, batchingWindow: '5s', parallelizationFactor: 4, maxRetryAttempts: 2, maxRecordAge: '6 hours', startingPosition: 'LATEST' },
};

export const orders = (over: Partial<PipelineInput> = {}) => definePipeline({ ...baseInput, ...over });

interface PolicyStatementJson {
  Action?: string | string[];
  Resource?: unknown;
}

/**
 * Actions that IAM cannot scope to a resource (vended log delivery and X-Ray:
 * the Step Functions logging and tracing guides); CDK grants them on "*".
 */
const NO_RESOURCE_LEVEL = /^(logs:(CreateLogDelivery|DeleteLogDelivery|DescribeLogGroups|DescribeResourcePolicies|GetLogDelivery|ListLogDeliveries|PutResourcePolicy|UpdateLogDelivery)|xray:.*)$/;

/** IAM statements of a template with Resource "*", but those whose every action has no narrower form. */
export function wildcardStatements(template: { findResources(type: string): Record<string, unknown> }): PolicyStatementJson[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .flatMap((r) => (r as { Properties: { PolicyDocument: { Statement: PolicyStatementJson[] } } }).Properties.PolicyDocument.Statement)
    .filter((s) => s.Resource === '*' || (Array.isArray(s.Resource) && s.Resource.includes('*')))
    .filter((s) => !([] as string[]).concat(s.Action ?? []).every((a) => NO_RESOURCE_LEVEL.test(a)));
}
