/**
 * `shardflow`: what a pipeline definition and its tests import. Pure: no AWS SDK,
 * no CDK, no I/O, so a pipelines/ folder loads anywhere.
 */
export { definePipeline, kinesisSource, kafkaSource, pipelineFromJson, DEFAULT_PROCESSING } from '../core/pipeline';
export type {
  Pipeline, PipelineInput, SourceSpec, KinesisSourceSpec, KafkaSourceSpec, AggregateInput, ProcessingInput,
  ProcessingOptions, ScheduledQueryInput, ScheduledQuery, Aggregate, Measure, TableNames,
} from '../core/pipeline';
export { field, and, or, not, FieldRef, type FilterExpr, type Scalar, type CompareOp } from '../core/filter';
export {
  col, lit, neg, coalesce, lower, upper, concat, substr, cast, dateTrunc, datePart, yearOf, monthOf, dayOf, hourOf, minuteOf, dayOfWeek,
  when, Expr, CaseExpr, ExprTypeError, typeOfExpr, isExprNode, EXPR_TYPES, TRUNC_UNITS, DATE_PARTS,
  type ExprNode, type ExprLike, type ExprType, type TruncUnit, type DatePart, type ColumnTypes,
} from '../core/expr';
export { compileExprJs, compileExprPredicate, exprToSql, ExprEvalError } from '../core/expr-compile';
export { count, sum, min, max, avg, approxDistinct, countIf, minBy, maxBy, approxPercentile, PERCENTILE_RELATIVE_ERROR, percentileColumn, type MeasureSpec } from '../core/measure';
export { tumbling, hopping, session, type WindowSpec, type Window, type SessionWindow } from '../core/window';
export type { Duration } from '../core/duration';
export { FIELD_TYPES, type FieldType, type FieldSpec, type SchemaField, type FieldValue, type Row } from '../core/schema';
export { PipelineDefinitionError } from '../core/errors';
export { lakeTables, aggregateView, aggregateViews, partialsTable, type LakeTable, type LakeView, type LakeColumn } from '../core/lake-table';
export { filterToSql, filterToCriteria } from '../core/filter-compile';
export { runEvents, type RunEventsOptions, type PipelineRun } from '../core/run-events';
export type { BatchCounts } from '../core/process-batch';
