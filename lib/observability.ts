/**
 * A pipeline's alarms and dashboard: consumer lag (Kinesis iterator age or Kafka
 * offset lag), function errors and throttles, failed batches arriving in the
 * on-failure bucket, failed scheduled queries.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { Pipeline } from '../core/pipeline';
import { checkInteger, checkSeconds, definedOnly } from './prop-checks';

export interface ObservabilityProps {
  /** The validated pipeline. */
  readonly pipeline: Pipeline;
  /** The stream processor function. */
  readonly function: lambda.IFunction;
  /** The on-failure bucket; it must have a request-metrics filter with id `failedBatchesMetricsId`. */
  readonly failedBatchesBucket: s3.IBucket;
  /** Id of that request-metrics filter. @default 'FailedBatches' */
  readonly failedBatchesMetricsId?: string;
  /** Kinesis only: the stream's retention, 24-8760 h; the iterator-age alarm fires at half of it. @default Duration.hours(24) */
  readonly streamRetention?: Duration;
  /** Kafka only: records behind the latest offset before alarming, 1-1e9. @default 10 × batch size × partitions */
  readonly offsetLagThreshold?: number;
  /** Alarms of the scheduled queries, to show and to notify with the rest. @default none */
  readonly scheduledQueryAlarms?: readonly cloudwatch.Alarm[];
  /** Alarms of batch jobs (the compactor), shown and notified like the scheduled queries'. @default none */
  readonly batchAlarms?: readonly cloudwatch.Alarm[];
  /** Topic notified on alarm and on recovery. @default no notifications (alarms show in the console) */
  readonly alarmTopic?: sns.ITopic;
  /** Dashboard name, 1-255 chars of [A-Za-z0-9_-]. @default 'shardflow-' + pipeline name */
  readonly dashboardName?: string;
}

export const OBSERVABILITY_DEFAULTS = {
  failedBatchesMetricsId: 'FailedBatches',
  streamRetention: Duration.hours(24),
} as const satisfies Partial<ObservabilityProps>;

const FIVE_MINUTES = Duration.minutes(5);

export class Observability extends Construct {
  /** Kinesis iterator age or Kafka offset lag. */
  public readonly lagAlarm: cloudwatch.Alarm;
  public readonly errorsAlarm: cloudwatch.Alarm;
  public readonly throttlesAlarm: cloudwatch.Alarm;
  /** A batch reached the on-failure destination: data the lake does not have. */
  public readonly failedBatchesAlarm: cloudwatch.Alarm;
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const p = { ...OBSERVABILITY_DEFAULTS, ...definedOnly(props) };
    const pipeline = p.pipeline;
    checkSeconds('Stream retention', p.streamRetention, 24 * 3600, 8760 * 3600);
    checkInteger('Offset lag threshold', p.offsetLagThreshold, 1, 1_000_000_000);
    const fnName = p.function.functionName;
    const alarm = (id2: string, metric: cloudwatch.IMetric, threshold: number, description: string): cloudwatch.Alarm =>
      new cloudwatch.Alarm(this, id2, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${pipeline.name}: ${description}`,
      });

    let lagMetric: cloudwatch.Metric;
    if (pipeline.source.kind === 'kinesis') {
      lagMetric = new cloudwatch.Metric({
        namespace: 'AWS/Lambda', metricName: 'IteratorAge', dimensionsMap: { FunctionName: fnName },
        statistic: 'Maximum', period: FIVE_MINUTES, unit: cloudwatch.Unit.MILLISECONDS,
      });
      // Half the retention (12 h of the default 24 h): time to react before records expire unread.
      const thresholdMs = (p.streamRetention.toMilliseconds() / 2);
      this.lagAlarm = alarm('IteratorAgeAlarm', lagMetric, thresholdMs, `oldest unread record is older than half the stream retention (${thresholdMs / 3_600_000} h)`);
    } else {
      lagMetric = new cloudwatch.Metric({
        namespace: 'AWS/Lambda', metricName: 'OffsetLag', dimensionsMap: { FunctionName: fnName },
        statistic: 'Maximum', period: FIVE_MINUTES,
      });
      // Ten full batches per partition behind: the poller is not keeping up, not just between polls.
      const threshold = p.offsetLagThreshold ?? 10 * pipeline.processing.batchSize * pipeline.source.partitions;
      this.lagAlarm = alarm('OffsetLagAlarm', lagMetric, threshold, `consumer is ${threshold} or more records behind the topic`);
    }
    const errors = p.function.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' });
    const throttles = p.function.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' });
    // Any error: the handler reports bad records per item, so a thrown error is a bug or an outage.
    this.errorsAlarm = alarm('ErrorsAlarm', errors, 1, 'the stream processor threw');
    this.throttlesAlarm = alarm('ThrottlesAlarm', throttles, 1, 'the stream processor was throttled (account or reserved concurrency)');
    const failedBatches = new cloudwatch.Metric({
      namespace: 'AWS/S3', metricName: 'PutRequests',
      dimensionsMap: { BucketName: p.failedBatchesBucket.bucketName, FilterId: p.failedBatchesMetricsId },
      statistic: 'Sum', period: FIVE_MINUTES,
    });
    this.failedBatchesAlarm = alarm('FailedBatchesAlarm', failedBatches, 1, 'a batch went to the on-failure bucket after retries; its records are not in the lake');

    const all: cloudwatch.Alarm[] = [this.lagAlarm, this.errorsAlarm, this.throttlesAlarm, this.failedBatchesAlarm, ...(p.scheduledQueryAlarms ?? []), ...(p.batchAlarms ?? [])];
    if (p.alarmTopic) {
      const action = new actions.SnsAction(p.alarmTopic);
      for (const a of all) {
        a.addAlarmAction(action);
        a.addOkAction(action);
      }
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: p.dashboardName ?? `shardflow-${pipeline.name}`,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: `${pipeline.name}: alarms`, alarms: all, width: 24, height: 3 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: pipeline.source.kind === 'kinesis' ? 'Iterator age (ms)' : 'Offset lag (records)', left: [lagMetric], width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'Invocations, errors, throttles',
        left: [p.function.metricInvocations({ period: FIVE_MINUTES, statistic: 'Sum' }), errors, throttles],
        width: 8,
      }),
      new cloudwatch.GraphWidget({ title: 'Duration (ms)', left: [p.function.metricDuration({ period: FIVE_MINUTES, statistic: 'p99' })], width: 8 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Failed batches written', left: [failedBatches], width: 12 }),
      new cloudwatch.GraphWidget({
        title: 'Concurrent executions',
        left: [p.function.metric('ConcurrentExecutions', { period: FIVE_MINUTES, statistic: 'Maximum' })],
        width: 12,
      }),
    );
  }
}
