// libbpf's own messages reach sluice's logger (pino), tagged as libbpf's: checked in a child process
// whose log goes to a file of the test's own.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const libbpfModule = fileURLToPath(new URL('../../src/bpf/libbpf.js', import.meta.url));

test("libbpf's messages are routed to the logger, and quoted in the error", () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-libbpf-log-'));
  try {
    const logFile = join(dir, 'sluice.log');
    const script = `
      const { BpfObject } = await import(${JSON.stringify(libbpfModule)});
      try { BpfObject.openBuffer(Buffer.from('not an ELF object at all'), 'garbage.o'); console.log('opened'); }
      catch (e) { console.log(JSON.stringify({ failure: e.failure, message: e.message })); }`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8', env: { ...process.env, SLUICE_LOG_FILE: logFile, SLUICE_LOG_LEVEL: 'debug' },
    });
    const error = JSON.parse(out) as { failure: string; message: string };
    assert.equal(error.failure, 'open');
    const records = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { libbpf?: boolean; msg: string });
    const fromLibbpf = records.filter((r) => r.libbpf);
    assert.ok(fromLibbpf.length > 0, `libbpf logged through pino: ${JSON.stringify(records)}`);
    const elfLine = fromLibbpf.find((r) => /not a proper ELF object/.test(r.msg));
    assert.ok(elfLine, JSON.stringify(fromLibbpf));
    assert.match(error.message, /not a proper ELF object/, 'the error quotes what libbpf said');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
