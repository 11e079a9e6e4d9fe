/**
 * Typed reading of JSON config objects. Every failure is a CniError naming the field by its full path
 * (`runtimeConfig.portMappings[1].hostPort`): code 7 for a bad value, code 2 for a field sluice does not
 * support (the spec wants its key and value in the message).
 */
import { CniCode, CniError } from './errors.js';

export function invalidField(path: string, reason: string, details = ''): CniError {
  return new CniError(CniCode.InvalidNetworkConfig, `invalid network config: "${path}" ${reason}`, details);
}

export function unsupportedField(path: string, value: unknown, reason = 'is not a field sluice knows'): CniError {
  return new CniError(CniCode.UnsupportedField, `unsupported field "${path}" (value ${preview(value)}): ${reason}`);
}

/** A short JSON rendering of a value for an error message. */
export function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns why a string is not acceptable, or undefined when it is. */
export type StringCheck = (value: string) => string | undefined;

/** One JSON object of the config and its path; `null` counts as absent, as in the Go plugins. */
export class Fields {
  constructor(
    readonly obj: Record<string, unknown>,
    readonly prefix = '',
  ) {}

  static of(value: unknown, path: string): Fields {
    if (!isPlainObject(value)) throw invalidField(path, `must be an object, not ${preview(value)}`);
    return new Fields(value, path);
  }

  path(key: string | number): string {
    if (typeof key === 'number') return `${this.prefix}[${key}]`;
    return this.prefix ? `${this.prefix}.${key}` : key;
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  keys(): string[] {
    return Object.keys(this.obj);
  }

  string(key: string, check?: StringCheck): string | undefined {
    if (!this.has(key)) return undefined;
    return checkedString(this.obj[key], this.path(key), check);
  }

  boolean(key: string): boolean | undefined {
    if (!this.has(key)) return undefined;
    const value = this.obj[key];
    if (typeof value !== 'boolean') throw invalidField(this.path(key), `must be true or false, not ${preview(value)}`);
    return value;
  }

  integer(key: string, min: number, max: number): number | undefined {
    if (!this.has(key)) return undefined;
    return checkedInteger(this.obj[key], this.path(key), min, max);
  }

  stringList(key: string, check?: StringCheck): string[] | undefined {
    const values = this.list(key);
    return values?.map((v, i) => checkedString(v, `${this.path(key)}[${i}]`, check));
  }

  list(key: string): unknown[] | undefined {
    if (!this.has(key)) return undefined;
    const value = this.obj[key];
    if (!Array.isArray(value)) throw invalidField(this.path(key), `must be a list, not ${preview(value)}`);
    return value;
  }

  object(key: string): Fields | undefined {
    if (!this.has(key)) return undefined;
    return Fields.of(this.obj[key], this.path(key));
  }

  /** Refuses (code 2) any key outside `known`. */
  onlyKnown(known: ReadonlySet<string>): void {
    for (const key of this.keys()) {
      if (!known.has(key)) throw unsupportedField(this.path(key), this.obj[key]);
    }
  }
}

export function checkedString(value: unknown, path: string, check?: StringCheck): string {
  if (typeof value !== 'string') throw invalidField(path, `must be a string, not ${preview(value)}`);
  const problem = check?.(value);
  if (problem) throw invalidField(path, problem);
  return value;
}

export function checkedInteger(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidField(path, `must be an integer from ${min} to ${max}, not ${preview(value)}`);
  }
  return value;
}
