/**
 * A setting that is missing or wrong. Its message is one line naming the
 * variable and what it expects, printed as-is when the process refuses to start.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** The value of a variable, or undefined when it is unset or blank. */
export function readVar(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = readVar(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got '${raw}')`);
  }
  return value;
}

export function readBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = readVar(env, name);
  if (raw === undefined) return fallback;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false (got '${raw}')`);
}

export function readEnum<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = readVar(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')} (got '${raw}')`);
  }
  return raw as T;
}

/** `30s`, `15m`, `24h`, `7d` or plain seconds. Undefined when the text is none of these. */
export function parseSeconds(value: string): number | undefined {
  const match = /^(\d+)\s*([smhd]?)$/.exec(value.trim());
  if (match === null) return undefined;
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** A duration in seconds, written as plain seconds or with a unit (`900`, `15m`, `24h`). */
export function readDuration(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = readVar(env, name);
  if (raw === undefined) return fallback;
  const value = parseSeconds(raw);
  if (value === undefined || value < min || value > max) {
    throw new ConfigError(`${name} must be a duration from ${min} s to ${max} s, in seconds or like 15m, 24h (got '${raw}')`);
  }
  return value;
}
