/**
 * The local Athena endpoint's statements executed by Trino instead of DuckDB
 * (`shardflow dev --athena-engine trino`): the same API, answered by the engine
 * Athena v3 is built on. Queries go to Trino as written (no translation);
 * SHOW/DESCRIBE stay with the catalog engine, because Athena answers them in
 * Hive's text layout, not Trino's.
 */
import type { QueryOutcome, RunOptions } from '../athena/engine';
import { QueryCancelled } from '../athena/engine';
import type { ColumnInfo } from '../athena/result-format';
import { AthenaQueryError, classifyStatement } from '../athena/sql-translate';
import { TrinoClient, TrinoQueryError } from './client';
import { glueTablesOfTemplate, loadGlueCatalog } from './glue-metastore';
import { athenaRows, parseTrinoType } from './result-format';
import { startTrino, TRINO_CATALOG, type RunningTrino } from './server';

/** What the endpoint needs of an engine (AthenaQueryEngine has the same shape). */
export interface StatementEngine {
  run(source: string, opts: RunOptions): Promise<QueryOutcome>;
}

/** Precision and scale as Athena reports them (local/athena/result-format.ts uses the same table). */
function precision(base: string, text: string): [number, number] {
  const dec = /^decimal\((\d+),\s*(\d+)\)$/.exec(text);
  if (dec) return [Number(dec[1]), Number(dec[2])];
  const table: Record<string, [number, number]> = {
    varchar: [2147483647, 0],
    bigint: [19, 0],
    integer: [10, 0],
    smallint: [5, 0],
    tinyint: [3, 0],
    double: [17, 0],
    real: [9, 0],
    timestamp: [3, 0],
    'timestamp with time zone': [3, 0],
  };
  return table[base] ?? [0, 0];
}

function columnInfo(name: string, typeText: string): ColumnInfo {
  const base = parseTrinoType(typeText).base;
  const [p, s] = precision(base, typeText);
  return { CatalogName: 'hive', SchemaName: '', TableName: '', Name: name, Label: name, Type: base, Precision: p, Scale: s, Nullable: 'UNKNOWN', CaseSensitive: base === 'varchar' };
}

export class TrinoStatementEngine implements StatementEngine {
  constructor(
    private readonly trino: Pick<RunningTrino, 'query'>,
    /** Answers SHOW and DESCRIBE from the pipelines' catalog, as the DuckDB engine does. */
    private readonly catalogEngine: StatementEngine,
  ) {}

  async run(source: string, opts: RunOptions): Promise<QueryOutcome> {
    if (classifyStatement(source).kind !== 'query') return this.catalogEngine.run(source, opts);
    const params = opts.parameters ?? [];
    // ExecutionParameters bind as Athena binds them: a prepared statement executed USING the literals.
    const sql = params.length > 0 ? `EXECUTE shardflow_statement USING ${params.join(', ')}` : source;
    try {
      const r = await this.trino.query(sql, {
        schema: opts.database.toLowerCase(),
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(params.length > 0 ? { preparedStatements: { shardflow_statement: source } } : {}),
      });
      return {
        columns: r.columns.map((c) => columnInfo(c.name, c.type)),
        rows: athenaRows(r.columns, r.rows),
        headerRow: true,
        dataScannedBytes: r.stats.physicalInputBytes,
        statementType: 'DML',
        substatementType: r.updateType ?? 'SELECT',
      };
    } catch (err) {
      if (opts.signal?.aborted) throw new QueryCancelled();
      if (err instanceof TrinoQueryError) {
        // Trino's message carries its own "line L:C: " prefix; keep it out of the position field.
        const m = /^line (\d+):(\d+): ([\s\S]*)$/.exec(err.message.slice(err.errorName.length + 2));
        const category = err.errorType === 'USER_ERROR' ? 2 : 1;
        return Promise.reject(
          m ? new AthenaQueryError(err.errorName, m[3]!, { line: Number(m[1]), column: Number(m[2]) }, category) : new AthenaQueryError(err.errorName, err.message.slice(err.errorName.length + 2), undefined, category),
        );
      }
      throw err;
    }
  }
}

/** The engine the query worker runs when the endpoint is given a Trino (server.ts `trino`). */
export function trinoStatementEngine(endpoint: string, catalogEngine: StatementEngine): StatementEngine {
  const client = new TrinoClient(endpoint, { catalog: TRINO_CATALOG });
  return new TrinoStatementEngine({ query: (sql, o) => client.query(sql, o) }, catalogEngine);
}

export interface TrinoLakeOptions {
  /** Trino's own state (config, node data, file metastore). */
  readonly dataDir: string;
  readonly s3Endpoint: string;
  /** The Glue resources of `cdk synth` for the lake's pipelines (lib/glue-template.ts), over the local bucket. */
  readonly glueTemplate: { readonly Resources?: Record<string, { readonly Type: string; readonly Properties?: Record<string, unknown> }> };
  readonly heapMb?: number;
}

/** A Trino over the local lake with the given Glue tables and views in its metastore. */
export async function startTrinoLake(opts: TrinoLakeOptions): Promise<RunningTrino> {
  const tables = glueTablesOfTemplate(opts.glueTemplate, { 'AWS::AccountId': '000000000000', 'AWS::Region': 'us-east-1', 'AWS::Partition': 'aws' });
  const trino = await startTrino({ dataDir: opts.dataDir, s3Endpoint: opts.s3Endpoint, readOnly: true, ...(opts.heapMb ? { heapMb: opts.heapMb } : {}) });
  try {
    await loadGlueCatalog(trino.metastoreDir, [], tables);
  } catch (err) {
    await trino.stop();
    throw err;
  }
  return trino;
}
