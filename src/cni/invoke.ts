import type { ChildProcessWithoutNullStreams } from 'node:child_process';

/** What a CNI plugin process answered: its exit code, its output, and stdout parsed when it is JSON. */
export interface PluginProcessAnswer {
  code: number | null;
  stdout: string;
  stderr: string;
  json: any;
}

/**
 * Feeds a spawned CNI plugin its network config on stdin and collects its answer, as a runtime does
 * (the demo and the tests spawn the plugin inside a node namespace and read it through this).
 */
export function pluginAnswer(child: ChildProcessWithoutNullStreams, stdin: string): Promise<PluginProcessAnswer> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => undefined);
    child.once('error', reject);
    child.once('close', (code) => {
      let json: unknown;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
    child.stdin.end(stdin);
  });
}
