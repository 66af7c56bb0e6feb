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
  /** After a commit, before the write that made it returns. Throws when it could not be counted. */
  tick(): Promise<void>;
  /** The count now, or `undefined` when it cannot be read (the search then reads the tables' versions). */
  read(): Promise<ClockReading | undefined>;
}

/**
 * One reading of the clock. `epoch` names the count: a new one starts whenever the count is lost
 * (a Redis without persistence restarted), and readings of different epochs are not compared.
 */
export interface ClockReading {
  epoch: string;
  count: number;
}
