/**
 * Aggregate measures as written in a definition: each kind is one module in
 * core/measures/, registered in core/measures/index.ts, with a mergeable
 * partial form (see partial-aggregate.ts and the kind's module).
 */
export * from './measures/index';
