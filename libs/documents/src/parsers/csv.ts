import { parse, type Options } from 'csv-parse/sync';
import type { RecordLabel } from '../document.ts';
import { DocumentError } from '../errors.ts';
import { blocksToText } from './blocks.ts';
import type { ParsedBody, TextFormatParser } from './format-parser.ts';
import { recordBlocks } from './records.ts';

const DELIMITERS = [',', ';', '\t', '|'] as const;

/**
 * CSV: the first row names the fields; every other row is a record written as `field: value`
 * lines, in its own section labelled `row N` (N counts data rows from 1). The delimiter (comma,
 * semicolon, tab or pipe) is the one the header row uses most, outside quotes. Rows with more
 * fields than the header get `column N` names; empty values are left out.
 */
export const csvParser: TextFormatParser<'text/csv'> = {
  kind: 'text',
  mediaType: 'text/csv',
  aliases: ['application/csv', 'text/comma-separated-values'],
  extensions: ['.csv'],
  parse: (source) => parseDelimited(source, undefined),
};

/** TSV: as CSV, with tabs. */
export const tsvParser: TextFormatParser<'text/tab-separated-values'> = {
  kind: 'text',
  mediaType: 'text/tab-separated-values',
  aliases: ['text/tsv'],
  extensions: ['.tsv', '.tab'],
  parse: (source) => parseDelimited(source, '\t'),
};

function parseDelimited(source: string, fixed: string | undefined): ParsedBody {
  const delimiter = fixed ?? guessDelimiter(source);
  let rows: string[][];
  try {
    const options: Options = { delimiter, bom: true, relax_column_count: true, skip_empty_lines: true };
    rows = parse(source, options);
  } catch (cause) {
    throw new DocumentError(
      'corrupt',
      // csv-parse's own wording names its internals; its line number is what a person needs.
      `The document is not valid CSV${csvLine(cause)}: a quoted value is not closed, or a row is malformed. ` +
        'Fix it, or send it as text/plain.',
      { cause },
    );
  }
  const [header, ...data] = rows;
  if (header === undefined || data.length === 0) {
    throw new DocumentError(
      'empty',
      'The CSV has no data rows (only a header, or nothing), so there is nothing to index.',
    );
  }
  const names = header.map((name, i) => name.trim() || `column ${i + 1}`);
  const records = data.map((row, r): [RecordLabel, string] => [
    { kind: 'row', n: r + 1 },
    row
      .map((value, i) => [names[i] ?? `column ${i + 1}`, value.replace(/\s+/g, ' ').trim()] as const)
      .filter(([, value]) => value !== '')
      .map(([name, value]) => `${name}: ${value}`)
      .join('\n'),
  ]);
  return blocksToText(recordBlocks(records));
}

/** The delimiter the first line uses most, counting only outside double quotes. */
function guessDelimiter(source: string): string {
  const counts = new Map<string, number>();
  let quoted = false;
  for (let i = 0; i < source.length && i < 65_536; i++) {
    const char = source.charAt(i);
    if (char === '"') quoted = !quoted;
    else if (!quoted && char === '\n') break;
    else if (!quoted && (DELIMITERS as readonly string[]).includes(char))
      counts.set(char, (counts.get(char) ?? 0) + 1);
  }
  let best = ',';
  let bestCount = 0;
  for (const delimiter of DELIMITERS) {
    const count = counts.get(delimiter) ?? 0;
    if (count > bestCount) [best, bestCount] = [delimiter, count];
  }
  return best;
}

function csvLine(cause: unknown): string {
  const lines = (cause as { lines?: unknown } | undefined)?.lines;
  return typeof lines === 'number' ? ` (near line ${lines})` : '';
}
