/**
 * One structured logger for every handler: JSON lines with fixed fields, so
 * CloudWatch Logs Insights can query them. Never log whole events: records may
 * hold personal data. Log identifiers and counts.
 */
type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

function errorFields(v: unknown): unknown {
  return v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v;
}

export function createLogger(service: string, opts: { level?: string; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[(opts.level ?? process.env.LOG_LEVEL ?? 'info').toLowerCase() as Level] ?? ORDER.info;
  const write = opts.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const log = (level: Level, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const out: Record<string, unknown> = { level, time: new Date().toISOString(), service, message };
    if (fields) for (const [k, v] of Object.entries(fields)) out[k] = errorFields(v);
    write(JSON.stringify(out, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  };
  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
  };
}

/** A logger that discards everything (tests, local emulators that show their own status). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
