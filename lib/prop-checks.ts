/**
 * Synth-time prop checks shared by the constructs. Each check names the prop and
 * the value given, in the style of aws-cdk's own event sources:
 * `Maximum batch size must be between 1 and 10000 inclusive (given 0)`.
 * Values that are still tokens are skipped: they are only known at deploy time.
 */
import { Token, type Duration } from 'aws-cdk-lib';

/** A prop value that breaks a rule; thrown while the app synthesizes, never at deploy time. */
export class InvalidPropError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidPropError';
  }
}

/** Whole number in [lo, hi]. */
export function checkInteger(label: string, value: number | undefined, lo: number, hi: number): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < lo || value > hi) {
    throw new InvalidPropError(`${label} must be a whole number between ${lo} and ${hi} inclusive (given ${value})`);
  }
}

/** Number in [lo, hi]. */
export function checkNumber(label: string, value: number | undefined, lo: number, hi: number): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!Number.isFinite(value) || value < lo || value > hi) {
    throw new InvalidPropError(`${label} must be between ${lo} and ${hi} inclusive (given ${value})`);
  }
}

/** Duration in [lo, hi] seconds. */
export function checkSeconds(label: string, value: Duration | undefined, lo: number, hi: number): void {
  if (value === undefined || value.isUnresolved()) return;
  const s = value.toSeconds();
  if (s < lo || s > hi) throw new InvalidPropError(`${label} must be between ${lo} and ${hi} seconds inclusive (given ${s})`);
}

/** String matching a pattern. */
export function checkPattern(label: string, value: string | undefined, pattern: RegExp): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!pattern.test(value)) throw new InvalidPropError(`${label} must match ${pattern} (given ${JSON.stringify(value)})`);
}

/** Drops keys whose value is undefined, so that `{ ...DEFAULTS, ...definedOnly(props) }` keeps the defaults. */
export function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
