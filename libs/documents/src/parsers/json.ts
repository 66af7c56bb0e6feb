import type { RecordLabel } from '../document.ts';
import { DocumentError } from '../errors.ts';
import { blocksToText, type Block } from './blocks.ts';
import type { TextFormatParser } from './format-parser.ts';
import { recordBlocks, recordText } from './records.ts';

// `{"`, `[{`, `[1`, `["`, `[]`…: JSON, as opposed to Markdown or prose that opens with a bracket.
const SNIFF_JSON = /^\s*(?:\{\s*(?:"|\})|\[\s*(?:[{["\d\]-]|true|false|null))/;

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * JSON: records as `field: value` lines. A top-level array is a list of records, each its own
 * section labelled with its JSONPath (`$[3]`); any other value is one record. Nested objects are
 * flattened into dotted field names.
 */
export const jsonParser: TextFormatParser<'application/json'> = {
  kind: 'text',
  mediaType: 'application/json',
  aliases: ['text/json'],
  extensions: ['.json'],
  // Prose can open like JSON ("[1] This study…", a SciFact abstract): a whole sample must parse.
  sniff: ({ text, complete }) => SNIFF_JSON.test(text) && (complete !== true || parses(text)),
  parse(source) {
    checkNesting(source, 'The JSON');
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (cause) {
      throw new DocumentError(
        'corrupt',
        `The document is not valid JSON${where(cause)}. ` + 'Fix the syntax, or send it as text/plain.',
        { cause },
      );
    }
    if (!Array.isArray(value)) {
      const one: Block[] = [
        { kind: 'heading', level: 1, text: '$', pathOnly: true },
        { kind: 'text', text: recordText(value) },
      ];
      return blocksToText(one);
    }
    const records = value.map((item, i): [RecordLabel, string] => [
      { kind: 'element', n: i },
      recordText(item),
    ]);
    return blocksToText(recordBlocks(records));
  },
};

/**
 * JSON Lines (NDJSON): one JSON value per line, each a record labelled `line N`, written as
 * `field: value` lines like JSON records. Blank lines are skipped.
 */
export const jsonLinesParser: TextFormatParser<'application/x-ndjson'> = {
  kind: 'text',
  mediaType: 'application/x-ndjson',
  aliases: ['application/jsonl', 'application/x-jsonlines', 'application/jsonlines'],
  extensions: ['.jsonl', '.ndjson'],
  // Two or more lines that each hold one object: sniffed before JSON, which would refuse them.
  sniff: ({ text }) => {
    const lines = text
      .split('\n', 64)
      .filter((line) => line.trim() !== '')
      .slice(0, 3);
    return lines.length >= 2 && lines.every((line) => /^\s*\{.*\}\s*$/.test(line));
  },
  parse(source) {
    const records: [RecordLabel, string][] = [];
    source.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      checkNesting(line, `Line ${i + 1}`);
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (cause) {
        throw new DocumentError(
          'corrupt',
          `Line ${i + 1} is not valid JSON${where(cause)}. ` +
            'Every line of a JSON Lines document must be one JSON value.',
          { cause },
        );
      }
      records.push([{ kind: 'line', n: i + 1 }, recordText(value)]);
    });
    return blocksToText(recordBlocks(records));
  },
};

/**
 * Deepest nesting a JSON document may have. Real records nest a handful of levels; a document
 * nested thousands deep is built to overflow a recursive reader (JSON.stringify, the flattener),
 * which fails with an engine message nobody can act on.
 */
export const MAX_JSON_DEPTH = 256;

/**
 * Refuses JSON nested deeper than {@link MAX_JSON_DEPTH} before any recursive code sees it: one
 * linear pass over the text counting brackets outside strings.
 */
function checkNesting(source: string, what: string): void {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < source.length; i++) {
    const code = source.charCodeAt(i);
    if (inString) {
      if (code === 92 /* \\ */) i++;
      else if (code === 34 /* " */) inString = false;
    } else if (code === 34) {
      inString = true;
    } else if (code === 91 /* [ */ || code === 123 /* { */) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (depth > MAX_JSON_DEPTH) break;
    } else if (code === 93 /* ] */ || code === 125 /* } */) {
      depth--;
    }
  }
  if (deepest > MAX_JSON_DEPTH) {
    throw new DocumentError(
      'too_complex',
      `${what} nests arrays or objects more than ${MAX_JSON_DEPTH} levels deep, deeper than Hopper reads. ` +
        'Flatten the structure (or send it as text/plain) and ingest it again.',
    );
  }
}

/**
 * Where JSON.parse stopped (` (at line 3, column 14)`), from its message; the rest of the
 * engine's wording is left out of what a person reads.
 */
function where(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : '';
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return ` (at line ${lineColumn[1]}, column ${lineColumn[2]})`;
  const position = /position (\d+)/.exec(message);
  if (position) return ` (at character ${position[1]})`;
  return /end of JSON input/i.test(message) ? ' (it ends too early)' : '';
}
