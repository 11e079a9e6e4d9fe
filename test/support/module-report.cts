// Preloaded into a plugin process (NODE_OPTIONS=--require, see moduleReportEnv in module-loading.ts)
// with SLUICE_MODULE_REPORT=<file>: which code the process loaded, appended to the file as JSON lines
// tagged with the process id. At exit: the main script, the CommonJS modules (require.cache) and the
// shared objects mapped (koffi's addon, libbpf); as they are resolved: the ES modules (a resolve hook,
// module-report-hooks.mjs).
import { appendFileSync, readFileSync } from 'node:fs';
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

const file = process.env.SLUICE_MODULE_REPORT;
if (file) {
  register(pathToFileURL(`${__dirname}/module-report-hooks.mjs`), { data: { file } });
  process.on('exit', () => {
    const libs = new Set<string>();
    for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
      const path = line.split(/\s+/)[5];
      if (path?.startsWith('/') && /\.(so[.\d]*|node)$/.test(path)) libs.add(path);
    }
    const report = { pid: process.pid, main: process.argv[1], cjs: Object.keys(require.cache), libs: [...libs] };
    appendFileSync(file, `${JSON.stringify(report)}\n`);
  });
}
