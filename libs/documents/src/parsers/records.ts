import type { RecordLabel } from '../document.ts';
import type { Block } from './blocks.ts';

/** Deeper nesting than this is written as JSON text rather than flattened further. */
const MAX_FLATTEN_DEPTH = 16;

/**
 * A record (a JSON value or a CSV row) as `field: value` lines, so the field names travel with the
 * values into chunks and search: `author.name: Ada`, `tags: a, b`, `items[0].sku: X1`. Empty
 * values are left out; a bare scalar is written as is.
 */
export function recordText(value: unknown): string {
  const lines: string[] = [];
  flatten(value, '', lines, 0);
  return lines.join('\n');
}

function flatten(value: unknown, path: string, lines: string[], depth: number): void {
  if (value === null || value === undefined || value === '') return;
  if (typeof value !== 'object') {
    // JSON spells numbers and booleans as they were written in the document.
    const text = (typeof value === 'string' ? value : JSON.stringify(value)).replace(/\s+/g, ' ').trim();
    if (text !== '') lines.push(path === '' ? text : `${path}: ${text}`);
    return;
  }
  if (depth >= MAX_FLATTEN_DEPTH) {
    lines.push(`${path}: ${JSON.stringify(value)}`);
    return;
  }
  if (Array.isArray(value)) {
    if (value.every((item) => item === null || typeof item !== 'object')) {
      const items = value.filter((item) => item !== null && item !== '').map(String);
      if (items.length > 0) lines.push(path === '' ? items.join(', ') : `${path}: ${items.join(', ')}`);
      return;
    }
    value.forEach((item, i) => flatten(item, `${path}[${i}]`, lines, depth + 1));
    return;
  }
  for (const [key, child] of Object.entries(value)) {
    flatten(child, path === '' ? key : `${path}.${key}`, lines, depth + 1);
  }
}

/**
 * One heading-less section per record, with its label as path: a search hit is then one record
 * (or, once the chunker packs small records together, a named range of them).
 */
export function recordBlocks(records: Iterable<[label: RecordLabel, text: string]>): Block[] {
  const blocks: Block[] = [];
  for (const [record, text] of records) {
    if (text.trim() === '') continue;
    blocks.push(
      { kind: 'heading', level: 1, text: recordLabel(record), pathOnly: true, record },
      { kind: 'text', text },
    );
  }
  return blocks;
}

/** `row 12`, `line 7`, `$[3]`: how a record is named in heading paths. */
export function recordLabel(record: RecordLabel): string {
  return record.kind === 'element' ? `$[${record.n}]` : `${record.kind} ${record.n}`;
}

/** `rows 12-40`, `lines 7-9`, `$[3]-$[8]`: a run of packed records, first to last. */
export function recordRangeLabel(first: RecordLabel, last: RecordLabel): string {
  if (first.n === last.n) return recordLabel(first);
  if (first.kind === 'element') return `$[${first.n}]-$[${last.n}]`;
  return `${first.kind}s ${first.n}-${last.n}`;
}
