/** Connections sharing one snapshot, handed out one query at a time: the pool both engines' readers use. */

/** An idle connection for each piece of work; the main one can be taken out for its owner's streaming. */
export class SnapshotPool<C> {
  /** How many connections there are besides the main one. */
  readonly extra: number;
  private readonly idle: C[];
  private readonly waiting: ((connection: C) => void)[] = [];
  private onMainReleased: (() => void) | undefined;

  constructor(
    /** The source's connection (its owner closes it). */
    private readonly main: C,
    /** More connections in the same snapshot (their owner closes them). */
    readonly extras: readonly C[],
  ) {
    this.extra = extras.length;
    this.idle = [main, ...extras];
  }

  private acquire(): Promise<C> {
    return this.idle.length > 0 ? Promise.resolve(this.idle.pop() as C) : new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(connection: C): void {
    if (connection === this.main && this.onMainReleased !== undefined) {
      const detached = this.onMainReleased;
      this.onMainReleased = undefined;
      detached();
      return;
    }
    const next = this.waiting.shift();
    if (next) next(connection);
    else this.idle.push(connection);
  }

  /** Runs `work` on an idle connection of the snapshot. */
  async using<T>(work: (connection: C) => Promise<T>): Promise<T> {
    const connection = await this.acquire();
    try {
      return await work(connection);
    } finally {
      this.release(connection);
    }
  }

  /** Takes the main connection out of the pool once it is idle (see SnapshotReaders). Needs `extra` > 0. */
  detachMain(): Promise<void> {
    if (this.extras.length === 0) return Promise.reject(new Error("detachMain needs extra connections"));
    const index = this.idle.indexOf(this.main);
    if (index >= 0) {
      this.idle.splice(index, 1);
      return Promise.resolve();
    }
    return new Promise((resolve) => (this.onMainReleased = resolve));
  }
}
