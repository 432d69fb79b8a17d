/** Shardflow core: the pure engine. No AWS SDK, no I/O. */
export * from './duration';
export * from './encode';
export * from './errors';
export * from './filter';
export * from './filter-compile';
export * from './kmv-sketch';
export * from './lake-table';
export * from './measure';
export * from './partition';
export * from './pipeline';
export * from './schema';
export * from './window';
export * from './codec';
export * from './partial-aggregate';
export * from './process-batch';
export * from './schedule';
export * from './backfill';
