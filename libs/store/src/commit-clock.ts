/**
 * A count of the commits that change what a search finds (new versions, undone writes, deletes),
 * shared by every process using the store. Writers tick it after each such commit and before the
 * write returns; a search reads it as it begins. The search mirror is fresh enough for a search once
 * a sync that started after the search's reading arrived has ended, or once it has synced past that
 * reading (see {@link SearchMirror}). Reading it is one Redis round trip, where the tables' own
 * versions cost a LanceDB call each, whose cost grows with the versions a busy table keeps.
 *
 * Maintenance (compaction, a move of the delta, index builds) does not tick it: it changes how the
 * rows are stored, not which rows there are, and the mirror reads those commits by itself.
 */
export interface CommitClock {
  /**
   * After a commit, before the write that made it returns. Throws when it could not be counted.
   * `note` (see `encodeChange`) lets mirrors apply the commit without reading the tables; a tick
   * without one has them read the tables.
   */
  tick(note?: string): Promise<void>;
  /** The count now, or `undefined` when it cannot be read (the search then reads the tables' versions). */
  read(): Promise<ClockReading | undefined>;
  /**
   * Hands `onTick` every tick from now on, in order, with its note, as long as they can be read:
   * one missed (a connection lost, notes dropped while nobody read them) shows as a gap in the
   * counts. Resolves once it follows; the function it resolves with stops it.
   */
  follow(onTick: (tick: ClockTick) => void): Promise<() => Promise<void>>;
}

/** One tick as followed: its reading and the commit's note, when it has one. */
export interface ClockTick extends ClockReading {
  note?: string;
}

/**
 * One reading of the clock. `epoch` names the count: a new one starts whenever the count is lost
 * (a Redis without persistence restarted), and readings of different epochs are not compared.
 */
export interface ClockReading {
  epoch: string;
  count: number;
}
