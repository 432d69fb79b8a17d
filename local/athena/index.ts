/** Shardflow's local Athena endpoint (AWS JSON 1.1 protocol on DuckDB). */
export { startAthenaEndpoint, DEFAULT_ATHENA_PORT, DEFAULT_LAKE_BUCKET, type AthenaEndpoint, type AthenaEndpointOptions } from './server';
export { runAthenaQuery, type AthenaQueryRun, type AthenaQueryRunOptions } from './client';
export { translateSql, classifyStatement, AthenaQueryError } from './sql-translate';
export { buildCatalog } from './catalog';
