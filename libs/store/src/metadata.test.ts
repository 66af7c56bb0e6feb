import { describe, expect, it } from 'vitest';
import { metadataEntries, metadataFilterSql, parseMetadata } from './metadata.ts';
import { StoreError } from './store-error.ts';

describe('metadata encoding', () => {
  it('encodes each pair as key=<JSON value>', () => {
    expect(metadataEntries({ lang: 'en', year: 2020, draft: false })).toEqual([
      'lang="en"',
      'year=2020',
      'draft=false',
    ]);
  });

  it('round-trips metadata through JSON, dropping anything not flat', () => {
    expect(parseMetadata('{"a":"x","b":1,"c":true,"d":{"e":1}}')).toEqual({ a: 'x', b: 1, c: true });
  });
});

describe('metadataFilterSql', () => {
  it('uses array_has for a value and array_has_any for a list', () => {
    expect(metadataFilterSql({ lang: 'en', year: [2020, 2021] })).toBe(
      `(array_has(meta_kv, 'lang="en"')) AND (array_has_any(meta_kv, make_array('year=2020', 'year=2021')))`,
    );
    expect(metadataFilterSql({})).toBeUndefined();
  });

  it('escapes single quotes in values', () => {
    expect(metadataFilterSql({ who: "O'Brien" })).toBe(`(array_has(meta_kv, 'who="O''Brien"'))`);
  });

  it('rejects keys outside the allowed alphabet', () => {
    expect(() => metadataFilterSql({ 'a b': 'x' })).toThrow(StoreError);
    expect(() => metadataFilterSql({ ["x') OR ('1'='1"]: 'x' })).toThrow(/must match/);
  });
});
