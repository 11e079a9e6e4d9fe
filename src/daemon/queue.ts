/**
 * Ordering of the agent's CNI calls. Calls for one container run one after the other, in arrival
 * order (an ADD and the DEL that follows it never overlap); calls for different containers run
 * concurrently. GC, which removes whatever the runtime no longer lists, runs alone: it waits for the
 * calls under way and holds back new ones until it is done.
 */

/** Runs tasks one at a time per key, in the order they were given; different keys run concurrently. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Keys with a task running or waiting. */
  get size(): number {
    return this.tails.size;
  }

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const mine = previous.then(task);
    const tail = mine.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return mine;
  }
}

/**
 * A readers-writer gate, first come first served: shared holders run together; an exclusive one
 * waits for them to finish, and shared ones arriving after it wait for it.
 */
export class Gate {
  private shared = 0;
  private exclusive = false;
  private readonly waiting: { exclusive: boolean; start: () => void }[] = [];

  async withShared<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try {
      return await task();
    } finally {
      this.shared--;
      this.wake();
    }
  }

  async withExclusive<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try {
      return await task();
    } finally {
      this.exclusive = false;
      this.wake();
    }
  }

  private acquire(exclusive: boolean): Promise<void> {
    if (this.waiting.length === 0 && this.canStart(exclusive)) {
      this.take(exclusive);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push({ exclusive, start: resolve }));
  }

  private canStart(exclusive: boolean): boolean {
    return exclusive ? !this.exclusive && this.shared === 0 : !this.exclusive;
  }

  private take(exclusive: boolean): void {
    if (exclusive) this.exclusive = true;
    else this.shared++;
  }

  private wake(): void {
    while (this.waiting.length && this.canStart(this.waiting[0]!.exclusive)) {
      const next = this.waiting.shift()!;
      this.take(next.exclusive);
      next.start();
    }
  }
}
