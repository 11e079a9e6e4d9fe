// What a plugin process loaded, from the reports of module-report.cts: run the process with
// moduleReportEnv(file) in its environment, then read moduleReports(file).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PRELOAD = fileURLToPath(new URL('./module-report.cjs', import.meta.url));

export interface ModuleReport {
  pid: number;
  /** process.argv[1]: the script Node was started on. */
  main: string;
  /** CommonJS modules, by path. */
  cjs: string[];
  /** ES modules, by URL (node: built-ins included). */
  esm: string[];
  /** Shared objects mapped at exit, by path. */
  libs: string[];
}

/** The environment that makes a Node process (and Node processes it starts) report to `file`. */
export function moduleReportEnv(file: string): Record<string, string> {
  return { NODE_OPTIONS: `--require ${JSON.stringify(PRELOAD)}`, SLUICE_MODULE_REPORT: file };
}

/** The reports in `file`, one per process that exited, in the order they exited. */
export function moduleReports(file: string): ModuleReport[] {
  if (!existsSync(file)) return [];
  const esm = new Map<number, string[]>();
  const reports: ModuleReport[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const entry = JSON.parse(line) as { pid: number; esm?: string } & Partial<ModuleReport>;
    if (entry.esm !== undefined) esm.set(entry.pid, [...(esm.get(entry.pid) ?? []), entry.esm]);
    else reports.push({ ...(entry as ModuleReport), esm: [] });
  }
  return reports.map((r) => ({ ...r, esm: esm.get(r.pid) ?? [] }));
}

/** Whether koffi (its native addon) or libbpf was loaded. */
export function nativeLoaded(report: ModuleReport): { koffi: boolean; libbpf: boolean } {
  return {
    koffi: report.libs.some((l) => /koffi[^/]*\.node$/.test(l)) || report.cjs.some((m) => m.includes('/node_modules/koffi/')),
    libbpf: report.libs.some((l) => /\/libbpf\.so/.test(l)),
  };
}
