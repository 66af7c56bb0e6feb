import { isUtf8 } from 'node:buffer';
import { limits } from '@hopper/contracts';

/**
 * Why a request body was refused before any work:
 * - `json`: not JSON at all;
 * - `depth`: arrays and objects nested deeper than `limits.maxJsonDepth`;
 * - `params`: valid JSON whose params break a bound (keys, `_meta`) or hold text that is not
 *   Unicode (invalid UTF-8 bytes, lone surrogates), which the caller must fix.
 */
export interface BodyProblem {
  kind: 'json' | 'depth' | 'params';
  message: string;
}

/**
 * The body, or why it was refused; `parsed` is the body when the problem was found after parsing
 * (so an error can carry the request's id), absent when it was refused from its bytes.
 */
export type ParsedBody = { value: unknown } | { problem: BodyProblem; parsed?: unknown };

/** Where the bounds are counted from: an MCP body holds JSON-RPC messages, a REST body is the input. */
export type BodyShape = 'json-rpc' | 'input';

/**
 * Parses a request body (JSON, at most `limits.maxRequestBodyBytes`) and checks what no later
 * layer should pay for, all before schema validation or any other work:
 *
 * - the bytes are UTF-8: invalid sequences are refused with their offset, not turned into U+FFFD;
 * - no string or key holds a lone surrogate (`"\ud800"` is valid JSON but not Unicode text);
 * - nesting, the count of keys and array items in all, and each JSON-RPC message's `params._meta`
 *   (keys and bytes) are bounded. Keys and nesting are counted on the bytes before parsing, and
 *   every count stops at its limit, so the cost is set by the limits, not by what was sent: a
 *   `_meta` of 150,000 keys blocked the event loop ~1.3 s in the SDK's validation before these
 *   checks.
 */
export function parseBoundedJson(raw: Buffer, shape: BodyShape): ParsedBody {
  if (!isUtf8(raw)) {
    return params(`the request body is not valid UTF-8 at byte ${firstInvalidUtf8(raw)}; send text as UTF-8`);
  }
  // Counted on the bytes first: parsing 150,000 keys costs ~80 ms of event loop, counting to the
  // limit well under one.
  const counted = countMembers(raw);
  if (counted) return { problem: counted };
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    return { problem: { kind: 'json', message: 'the request body is not valid JSON' } };
  }
  if (shape === 'json-rpc') {
    const messages = Array.isArray(value) ? value : [value];
    for (const [index, message] of messages.entries()) {
      const meta = isObject(message) && isObject(message.params) ? message.params._meta : undefined;
      if (meta === undefined) continue;
      const at = `${Array.isArray(value) ? `[${index}].` : ''}params._meta`;
      const problem = checkMeta(meta, at);
      if (problem) return { problem, parsed: value };
    }
  }
  const problem = walk(value);
  return problem ? { problem, parsed: value } : { value };
}

/** A `_meta` is a few protocol fields (progress token, the 2026 envelope): bounded in keys and bytes. */
function checkMeta(meta: unknown, at: string): BodyProblem | undefined {
  let keys = 0;
  const pending: unknown[] = [meta];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    if (typeof node !== 'object' || node === null) continue;
    for (const key in node) {
      keys += 1;
      if (keys > limits.maxMetaKeys) {
        return { kind: 'params', message: `${at} has more than ${limits.maxMetaKeys} keys` };
      }
      pending.push((node as Record<string, unknown>)[key]);
    }
  }
  // Measured only once the keys are few: then stringifying costs what its strings weigh.
  if (Buffer.byteLength(JSON.stringify(meta)) > limits.maxMetaBytes) {
    return { kind: 'params', message: `${at} is over ${limits.maxMetaBytes} bytes as JSON` };
  }
  return undefined;
}

/** Depth, the count of keys and array items, and well-formed strings, in one bounded walk. */
function walk(root: unknown): BodyProblem | undefined {
  let members = 0;
  const pending: [unknown, number, string][] = [[root, 1, '']];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [node, depth, path] = next;
    if (typeof node === 'string') {
      if (!node.isWellFormed()) return loneSurrogate(node, path, '');
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    if (depth > limits.maxJsonDepth) return tooDeep();
    if (Array.isArray(node)) {
      members += node.length;
      if (members > limits.maxRequestMembers) return tooManyMembers();
      node.forEach((child, index) => pending.push([child, depth + 1, `${path}[${index}]`]));
      continue;
    }
    for (const key in node) {
      members += 1;
      if (members > limits.maxRequestMembers) return tooManyMembers();
      const name = propertyName(key);
      const at = path === '' || !IDENTIFIER.test(key) ? `${path}${name}` : `${path}.${name}`;
      if (!key.isWellFormed()) return loneSurrogate(key, path === '' ? 'the body' : path, ' in a key');
      pending.push([(node as Record<string, unknown>)[key], depth + 1, at]);
    }
  }
  return undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OBJECT = 1;
const EMPTY_ARRAY = 2;
const ARRAY = 3;

/**
 * Nesting and the count of keys and array items, read off the raw bytes without parsing: a key is
 * a `:`, an array item a `,` in an array or its first value. Strings are skipped with a native
 * search for their closing quote. Malformed JSON is left for JSON.parse to refuse.
 */
function countMembers(bytes: Buffer): BodyProblem | undefined {
  let members = 0;
  const open: number[] = [];
  const firstValue = () => {
    if (open.at(-1) !== EMPTY_ARRAY) return;
    open[open.length - 1] = ARRAY;
    members += 1;
  };
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    switch (byte) {
      case QUOTE: {
        firstValue();
        let end = i;
        for (;;) {
          end = bytes.indexOf(QUOTE, end + 1);
          if (end === -1) return undefined;
          let escapes = 0;
          while (bytes[end - 1 - escapes] === BACKSLASH) escapes += 1;
          if (escapes % 2 === 0) break;
        }
        i = end;
        break;
      }
      case 0x7b: // {
      case 0x5b: // [
        firstValue();
        open.push(byte === 0x7b ? OBJECT : EMPTY_ARRAY);
        if (open.length > limits.maxJsonDepth) return tooDeep();
        break;
      case 0x7d: // }
      case 0x5d: // ]
        open.pop();
        break;
      case 0x3a: // :
        members += 1;
        break;
      case 0x2c: // ,
        if (open.at(-1) === ARRAY) members += 1;
        break;
      case 0x20:
      case 0x09:
      case 0x0a:
      case 0x0d:
        break;
      default: // a number, true, false or null
        firstValue();
    }
    if (members > limits.maxRequestMembers) return tooManyMembers();
  }
  return undefined;
}

function tooDeep(): BodyProblem {
  return {
    kind: 'depth',
    message: `the request nests arrays and objects deeper than ${limits.maxJsonDepth} levels`,
  };
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `name` as it reads in a path: `arguments`, or `["odd key"]` when it is no identifier. */
function propertyName(key: string): string {
  return IDENTIFIER.test(key) ? key : `[${JSON.stringify(key.toWellFormed())}]`;
}

function tooManyMembers(): BodyProblem {
  return {
    kind: 'params',
    message: `the request has more than ${limits.maxRequestMembers} keys and array items in all`,
  };
}

function loneSurrogate(text: string, path: string, where: string): BodyProblem {
  let unit = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const paired =
      (code >= 0xd800 && code <= 0xdbff && isLow(text.charCodeAt(i + 1))) ||
      (code >= 0xdc00 && code <= 0xdfff && isHigh(text.charCodeAt(i - 1)));
    if (code >= 0xd800 && code <= 0xdfff && !paired) {
      unit = code;
      break;
    }
    if (code >= 0xd800 && code <= 0xdbff && paired) i += 1;
  }
  return paramsProblem(
    `${path || 'the body'} holds a lone surrogate (\\u${unit.toString(16)})${where}, which is not Unicode text; ` +
      'send well-formed UTF-16 escapes (pairs) or the characters themselves',
  );
}

const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/** The offset of the first byte that does not begin or continue a valid UTF-8 sequence. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    // Sequence length and the allowed range of the second byte (RFC 3629: no overlongs, no
    // surrogates, nothing past U+10FFFF).
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead < 0x80) length = 1;
    else if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    } else return i;
    for (let k = 1; k < length; k++) {
      const byte = bytes[i + k];
      if (byte === undefined) return i;
      const [min, max] = k === 1 ? [low, high] : [0x80, 0xbf];
      if (byte < min || byte > max) return i;
    }
    i += length;
  }
  return bytes.length;
}

function paramsProblem(message: string): BodyProblem {
  return { kind: 'params', message };
}

function params(message: string): ParsedBody {
  return { problem: paramsProblem(message) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
