/**
 * An ordered list of cleanups run once: `close()` is safe to call twice (the second call gets the
 * first call's promise) and runs every cleanup even when an earlier one throws, in reverse order of
 * registration (what started last stops first). Errors are collected into one AggregateError.
 */
export class Closer {
  readonly #steps: { name: string; run: () => unknown }[] = [];
  #closing: Promise<void> | undefined;

  add(name: string, run: () => unknown): void {
    this.#steps.push({ name, run });
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  close(): Promise<void> {
    this.#closing ??= this.#runAll();
    return this.#closing;
  }

  async #runAll(): Promise<void> {
    const errors: Error[] = [];
    for (const step of [...this.#steps].reverse()) {
      try {
        await step.run();
      } catch (error) {
        errors.push(
          new Error(`${step.name}: ${error instanceof Error ? error.message : String(error)}`, {
            cause: error,
          }),
        );
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, `${errors.length} cleanup step(s) failed`);
  }
}

/**
 * Wires SIGTERM and SIGINT to `shutdown`; a second signal while shutting down exits at once, so an
 * operator's repeated Ctrl-C always works.
 */
export function onShutdownSignals(shutdown: (signal: NodeJS.Signals) => Promise<void>): void {
  let shuttingDown = false;
  const handler = (signal: NodeJS.Signals) => {
    if (shuttingDown) process.exit(1);
    shuttingDown = true;
    shutdown(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
