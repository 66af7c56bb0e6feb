import { describe, expect, it } from 'vitest';
import { limits } from '@hopper/contracts';
import { firstInvalidUtf8, parseBoundedJson } from './json-body.ts';

const parse = (text: string) => parseBoundedJson(Buffer.from(text), 'input');
const array = (count: number) => `[${Array.from({ length: count }, () => '1').join(',')}]`;

describe('parseBoundedJson', () => {
  it('parses bodies within the bounds, whatever their strings hold', () => {
    const text = JSON.stringify({ query: 'a: "b", [c] {d} \\ e', list: ['x,y', 'z:'], n: [1, [2, 3], {}] });
    expect(parse(text)).toEqual({ value: JSON.parse(text) as unknown });
    // Exactly the limit, counted as the walk after parsing counts: keys plus array items.
    expect(parse(`{"a":${array(limits.maxRequestMembers - 1)}}`)).toHaveProperty('value');
    expect(parse(`{"a":${array(limits.maxRequestMembers)}}`)).toEqual({
      problem: { kind: 'params', message: 'the request has more than 10000 keys and array items in all' },
    });
  });

  it('refuses nesting past the limit before parsing', () => {
    const deep = '['.repeat(limits.maxJsonDepth + 1) + ']'.repeat(limits.maxJsonDepth + 1);
    expect(parse(deep)).toMatchObject({ problem: { kind: 'depth' } });
    const ok = '['.repeat(limits.maxJsonDepth) + ']'.repeat(limits.maxJsonDepth);
    expect(parse(ok)).toHaveProperty('value');
  });

  it('names where a lone surrogate is, in values and keys', () => {
    expect(parse('{"a":{"b c":["x","\\udfff"]}}')).toMatchObject({
      problem: {
        kind: 'params',
        message: expect.stringMatching(/^a\["b c"\]\[1\] holds a lone surrogate \(\\udfff\)/) as string,
      },
    });
    expect(parse('{"\\ud800x":1}')).toMatchObject({
      problem: {
        message: expect.stringMatching(/^the body holds a lone surrogate \(\\ud800\) in a key/) as string,
      },
    });
    // A pair is text.
    expect(parse('{"a":"\\ud83d\\ude00"}')).toEqual({ value: { a: '😀' } });
  });

  it("bounds each JSON-RPC message's _meta and tells JSON errors apart", () => {
    const meta = (value: string) =>
      parseBoundedJson(
        Buffer.from(`[{"jsonrpc":"2.0","method":"ping","params":{"_meta":${value}}}]`),
        'json-rpc',
      );
    expect(meta('{"progressToken":1}')).toHaveProperty('value');
    expect(meta(`{"a":"${'x'.repeat(limits.maxMetaBytes)}"}`)).toMatchObject({
      problem: { message: '[0].params._meta is over 65536 bytes as JSON' },
    });
    expect(parse('{"a":')).toMatchObject({ problem: { kind: 'json' } });
  });
});

describe('firstInvalidUtf8', () => {
  it('finds the first byte that starts no valid sequence', () => {
    expect(firstInvalidUtf8(Buffer.from('café 😀'))).toBe(Buffer.byteLength('café 😀'));
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xc3, 0x28]))).toBe(1); // cut short
    expect(firstInvalidUtf8(Buffer.from([0x61, 0x62, 0xff]))).toBe(2);
    expect(firstInvalidUtf8(Buffer.from([0xc0, 0xaf]))).toBe(0); // overlong '/'
    expect(firstInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toBe(0); // an encoded surrogate
  });
});
