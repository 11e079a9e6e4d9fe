/**
 * The agent's deferred attaches. Its ADDs answer before the pod's TCX link exists (a TCX attach waits
 * for an RCU grace period under the rtnl lock: ~10–15 ms here, more than the rest of ADD together),
 * with the host veth in the spoof guard meanwhile (datapath/spoof-guard.ts). The promoter attaches
 * those links once the agent is quiet — no call running and none for `quietMs` — one at a time, each
 * in its container's turn, so that the rtnl time it takes is not taken from a call. A stopping agent
 * attaches all that is left before it exits, and one starting finishes what a killed one left.
 */
import type { Logger } from 'pino';
import type { Datapath } from '../bpf/datapath.js';
import { completeDeferredAttach, deferredAttachments } from '../datapath/deferred-attach.js';
import { SpoofGuard } from '../datapath/spoof-guard.js';
import type { NetNs } from '../netns.js';
import type { AgentServer } from './server.js';

/** Quiet time before the promoter works: a burst of pods gets its answers first. */
export const DEFAULT_PROMOTE_QUIET_MS = 200;

export interface PromoterOptions {
  server: AgentServer;
  /** The state directories the agent knows (records of deferred attaches live there). */
  stateDirs(): string[];
  nodeNetns?: NetNs;
  objectPath?: string;
  logger: Logger;
  quietMs?: number;
}

export interface PromoterStats {
  /** Links attached so far. */
  attached: number;
  /** Deferred attaches found at the last look, not yet done. */
  pending: number;
  failed: number;
  lastError?: string;
}

export class Promoter {
  readonly stats: PromoterStats = { attached: 0, pending: 0, failed: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private stopping = false;
  /** wake() came during a pass: look again after it. */
  private again = false;
  private readonly datapaths = new Map<string, Promise<Datapath>>();
  private spoofGuard: SpoofGuard | undefined;
  private readonly quietMs: number;

  constructor(private readonly options: PromoterOptions) {
    this.quietMs = options.quietMs ?? DEFAULT_PROMOTE_QUIET_MS;
  }

  /** There may be work: look once the agent has been quiet long enough. */
  wake(): void {
    if (this.stopped || this.stopping || this.timer) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.options.server.quietMs < this.quietMs) return this.wake();
      this.again = false;
      this.running = this.pass().finally(() => {
        this.running = undefined;
        if (this.again) this.wake();
      });
    }, Math.max(1, this.quietMs - this.options.server.quietMs));
  }

  /**
   * Stops looking, after attaching whatever is still deferred (no agent may come after this one to do
   * it: until one does, the standalone plugin serves the node); closes the data path handles. Call
   * it once no more calls come in.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    if (!this.stopped) await this.pass({ force: true });
    this.stopped = true;
    for (const datapath of this.datapaths.values()) (await datapath.catch(() => undefined))?.close();
    this.datapaths.clear();
    this.spoofGuard?.close();
    this.spoofGuard = undefined;
  }

  /** Attaches what is deferred, one by one, giving way to calls unless `force`. */
  private async pass({ force = false } = {}): Promise<void> {
    const log = this.options.logger;
    const pending = this.options.stateDirs().flatMap((dir) => {
      try {
        return deferredAttachments(dir);
      } catch (err) {
        log.warn({ stateDir: dir, err }, 'cannot list the deferred attaches');
        return [];
      }
    });
    this.stats.pending = pending.length;
    for (const item of pending) {
      if (this.stopped) return;
      if (!force && this.options.server.quietMs < this.quietMs) {
        // A call came in: it goes first; the rest waits for the next quiet spell.
        this.again = true;
        return;
      }
      const { record } = item;
      try {
        const outcome = await this.options.server.ordered(record.containerId, () =>
          completeDeferredAttach(item, { ...(this.options.nodeNetns ? { nodeNetns: this.options.nodeNetns } : {}), guard: this.guard(), datapath: (pinRoot) => this.datapath(pinRoot) }),
        );
        if (outcome === 'attached') this.stats.attached++;
        log.debug({ hostVeth: record.hostVeth, containerId: record.containerId, outcome }, 'deferred attach');
      } catch (err) {
        this.stats.failed++;
        this.stats.lastError = `${record.hostVeth}: ${err instanceof Error ? err.message : String(err)}`;
        log.error({ hostVeth: record.hostVeth, containerId: record.containerId, err }, 'cannot attach the program deferred by ADD: the spoof guard keeps covering the pod');
      }
      this.stats.pending--;
    }
    this.pruneGuard();
  }

  /**
   * Takes out of the spoof guard the ifindexes no deferred attach accounts for (an attachment removed
   * by hand, say): a device that later got the number would be guarded for nothing. An ADD records
   * its deferred attach before it guards the device, so a call running meanwhile loses nothing.
   */
  private pruneGuard(): void {
    if (this.stopped) return;
    try {
      const guard = this.guard();
      const guarded = guard.list();
      if (!guarded.length) return;
      const pending = new Set(this.options.stateDirs().flatMap((dir) => deferredAttachments(dir).map((p) => p.record.hostIfindex)));
      for (const ifindex of guarded) {
        if (pending.has(ifindex)) continue;
        guard.release(ifindex);
        this.options.logger.info({ ifindex }, 'spoof guard element no deferred attach accounts for: released');
      }
    } catch (err) {
      this.options.logger.warn({ err }, 'cannot prune the spoof guard');
    }
  }

  /** The node's spoof guard over a socket kept open: closing one after a deletion costs an RCU grace period. */
  private guard(): SpoofGuard {
    this.spoofGuard ??= SpoofGuard.open(this.options.nodeNetns ? { netns: this.options.nodeNetns } : {});
    return this.spoofGuard;
  }

  private datapath(pinRoot: string): Promise<Datapath> {
    let datapath = this.datapaths.get(pinRoot);
    if (!datapath) {
      datapath = import('../bpf/datapath.js').then(({ Datapath }) =>
        Datapath.open({ pinRoot, ...(this.options.nodeNetns ? { netns: this.options.nodeNetns } : {}), ...(this.options.objectPath ? { objectPath: this.options.objectPath } : {}) }),
      );
      datapath.catch(() => this.datapaths.delete(pinRoot));
      this.datapaths.set(pinRoot, datapath);
    }
    return datapath;
  }
}
