/**
 * Running a query and timing it through the Athena API alone, so the same
 * function measures the local endpoint and AWS Athena (benchmarks, the CLI).
 */
import {
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  type AthenaClient,
  type ColumnInfo,
  type QueryExecutionState,
} from '@aws-sdk/client-athena';

export interface AthenaQueryRun {
  readonly queryExecutionId: string;
  readonly state: QueryExecutionState;
  readonly stateChangeReason?: string;
  /** Statistics.EngineExecutionTimeInMillis. */
  readonly engineExecutionTimeMs: number;
  /** Statistics.DataScannedInBytes. */
  readonly dataScannedBytes: number;
  /** Start call to terminal state, as the caller saw it, milliseconds. */
  readonly wallTimeMs: number;
  readonly outputLocation?: string;
  readonly columns: readonly ColumnInfo[];
  /** Data rows (the header row of a SELECT removed); null for SQL NULL. Empty unless `fetchRows`. */
  readonly rows: readonly (readonly (string | null)[])[];
}

export interface AthenaQueryRunOptions {
  readonly database?: string;
  readonly workGroup?: string;
  readonly outputLocation?: string;
  /** Poll interval, milliseconds. @default 50 */
  readonly pollMs?: number;
  /** Give up (and throw) after this long, milliseconds. @default 300000 */
  readonly timeoutMs?: number;
  /** Read all result pages. @default true */
  readonly fetchRows?: boolean;
}

/** Starts a query, waits for a terminal state and (optionally) reads every result page. Never throws for a FAILED query: read `state`. */
export async function runAthenaQuery(client: AthenaClient, sql: string, opts: AthenaQueryRunOptions = {}): Promise<AthenaQueryRun> {
  const t0 = performance.now();
  const { QueryExecutionId: id } = await client.send(
    new StartQueryExecutionCommand({
      QueryString: sql,
      QueryExecutionContext: opts.database ? { Database: opts.database } : undefined,
      WorkGroup: opts.workGroup,
      ResultConfiguration: opts.outputLocation ? { OutputLocation: opts.outputLocation } : undefined,
    }),
  );
  if (!id) throw new Error('StartQueryExecution returned no QueryExecutionId');
  const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
  for (;;) {
    const { QueryExecution: qe } = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = qe?.Status?.State;
    if (qe && (state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED')) {
      const wallTimeMs = performance.now() - t0;
      let columns: ColumnInfo[] = [];
      const rows: (string | null)[][] = [];
      if (state === 'SUCCEEDED' && opts.fetchRows !== false) {
        let next: string | undefined;
        let first = true;
        do {
          const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: next, MaxResults: 1000 }));
          columns = page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? columns;
          const pageRows = (page.ResultSet?.Rows ?? []).map((r) => (r.Data ?? []).map((d) => d.VarCharValue ?? null));
          // A SELECT's first row repeats the column names (Athena's header row); SHOW/DESCRIBE results have none.
          if (first && qe.StatementType === 'DML' && pageRows.length > 0) pageRows.shift();
          rows.push(...pageRows);
          first = false;
          next = page.NextToken;
        } while (next);
      }
      return {
        queryExecutionId: id,
        state,
        stateChangeReason: qe.Status?.StateChangeReason,
        engineExecutionTimeMs: qe.Statistics?.EngineExecutionTimeInMillis ?? 0,
        dataScannedBytes: qe.Statistics?.DataScannedInBytes ?? 0,
        wallTimeMs,
        outputLocation: qe.ResultConfiguration?.OutputLocation,
        columns,
        rows,
      };
    }
    if (Date.now() > deadline) throw new Error(`query ${id} still ${state} after ${opts.timeoutMs ?? 300_000} ms`);
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 50));
  }
}
