import { DocumentError } from '../errors.ts';
import { blocksToText } from './blocks.ts';
import type { TextFormatParser } from './format-parser.ts';
import { recordBlocks, recordText } from './records.ts';

// `{"`, `[{`, `[1`, `["`, `[]`…: JSON, as opposed to Markdown or prose that opens with a bracket.
const SNIFF_JSON = /^\s*(?:\{\s*(?:"|\})|\[\s*(?:[{["\d\]-]|true|false|null))/;

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
  sniff: ({ text }) => SNIFF_JSON.test(text),
  parse(source) {
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (cause) {
      throw new DocumentError(
        'corrupt',
        `The document is not valid JSON (${cause instanceof Error ? cause.message : String(cause)}). ` +
          'Fix the syntax, or send it as text/plain.',
        { cause },
      );
    }
    const records: [string, string][] = Array.isArray(value)
      ? value.map((item, i) => [`$[${i}]`, recordText(item)])
      : [['$', recordText(value)]];
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
    const records: [string, string][] = [];
    source.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (cause) {
        throw new DocumentError(
          'corrupt',
          `Line ${i + 1} is not valid JSON (${cause instanceof Error ? cause.message : String(cause)}). ` +
            'Every line of a JSON Lines document must be one JSON value.',
          { cause },
        );
      }
      records.push([`line ${i + 1}`, recordText(value)]);
    });
    return blocksToText(recordBlocks(records));
  },
};
