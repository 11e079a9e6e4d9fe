// The resolve hook of module-report.cts: every ES module a process resolves, appended to the report.
import { appendFileSync } from 'node:fs';

let file: string | undefined;

export function initialize(data: { file: string }): void {
  file = data.file;
}

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string }> {
  const resolved = await next(specifier, context);
  if (file) appendFileSync(file, `${JSON.stringify({ pid: process.pid, esm: resolved.url })}\n`);
  return resolved;
}
