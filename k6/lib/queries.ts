/** Queries for the search scripts. Any words work: the cost of a search hardly depends on them. */
const WORDS = (
  'lighthouse keeper lamp wick paraffin lens storm harbour pilot beacon signal coast tide reef gale fog ' +
  'horn clockwork glass brass oil watch ledger supply boat island cliff granite tower stair gallery ' +
  'lantern shutter flash range chart river valley bridge engine copper timber market winter summer ' +
  'garden orchard station railway letter archive museum library school doctor patient record report'
).split(' ');

/** The same few queries for every VU: after the first round each is in the cache. */
export const CACHED_QUERIES: string[] = Array.from(
  { length: 32 },
  (_, i) => `${WORDS[i % WORDS.length]} ${WORDS[(i * 7 + 3) % WORDS.length]}`,
);

/** A query no one has asked: three words and a token unique to this VU and iteration. */
export function uniqueQuery(vu: number, iteration: number): string {
  const pick = () => WORDS[Math.floor(Math.random() * WORDS.length)];
  return `${pick()} ${pick()} ${pick()} q${vu}x${iteration}`;
}
