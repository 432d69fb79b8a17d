/** The Athena query runner, for the CLI and the local scheduler (local/ may import functions/, cli/ may not). */
export { runAthenaQuery, QueryFailedError, QueryTimeoutError, type QueryRequest, type QueryResult, type QueryColumn } from '../functions/query-runner/athena-query';
