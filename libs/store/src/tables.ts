import type { Connection, Table } from '@lancedb/lancedb';
import type { Schema } from 'apache-arrow';

/**
 * Table handles opened on demand. A table that does not exist yet is not an error for readers,
 * and one created by another process after this store opened is found on the next call: only
 * handles that exist are cached, so absence is re-checked every time.
 */
export class TableHandles {
  readonly #db: Connection;
  readonly #open = new Map<string, Table>();

  constructor(db: Connection) {
    this.#db = db;
  }

  /** The table, or undefined while nobody has written to it. */
  async get(name: string): Promise<Table | undefined> {
    const cached = this.#open.get(name);
    if (cached) return cached;
    // Listing first avoids relying on the wording of LanceDB's "not found" error.
    const names = await this.#db.tableNames();
    if (!names.includes(name)) return undefined;
    try {
      return this.#remember(name, await this.#db.openTable(name));
    } catch (error) {
      // Listed but not openable: another process is creating it (its directory is there, its first
      // version is not yet). That is still "nobody has written to it" for a reader.
      if (isMissingDataset(error)) return undefined;
      throw error;
    }
  }

  /**
   * The table, created empty with `schema` when absent. If another process creates it first
   * (possibly with a different vector dimension) the existing table is returned; callers compare
   * its schema with what they need.
   */
  async getOrCreate(name: string, schema: Schema): Promise<Table> {
    const existing = await this.get(name);
    if (existing) return existing;
    try {
      return this.#remember(name, await this.#db.createEmptyTable(name, schema, { existOk: true }));
    } catch (error) {
      // existOk still fails when the existing schema differs: open that table instead.
      const raced = await this.get(name);
      if (raced) return raced;
      throw error;
    }
  }

  /** Closes every open handle; later calls reopen, which the store prevents once closed. */
  close(): void {
    for (const table of this.#open.values()) table.close();
    this.#open.clear();
  }

  #remember(name: string, table: Table): Table {
    const current = this.#open.get(name);
    if (current) {
      // Two concurrent opens: keep the first handle, drop the duplicate.
      table.close();
      return current;
    }
    this.#open.set(name, table);
    return table;
  }
}

/** LanceDB's error for a table whose directory exists without a committed version. */
export function isMissingDataset(error: unknown): boolean {
  return error instanceof Error && /was not found/i.test(error.message);
}
