import { describe, expect, it } from 'vitest';
import { documentId } from '@hopper/contracts';
import { idFromFileName, idFromText } from './ids.ts';

describe('ids the page proposes', () => {
  it('come from a file name without its extension', () => {
    expect(idFromFileName('tides.pdf')).toBe('tides');
    expect(idFromFileName('Tides & Currents (2024).PDF')).toBe('tides-currents-2024');
    expect(idFromFileName('C:\\\\notes\\\\harbour.v2.md')).toBe('harbour.v2');
    expect(idFromFileName('.env')).toBe('env');
    expect(idFromFileName('Gezeiten für Anfänger.docx')).toBe('gezeiten-für-anfänger');
    expect(idFromFileName('???.txt')).toBeUndefined();
  });

  it("come from the text's first heading, else the first words of its first line", () => {
    expect(idFromText('# Lamplighters\n\nThey trim wicks.')).toBe('lamplighters');
    expect(idFromText('Intro line\n\n## The Harbour Wall at Night')).toBe('the-harbour-wall-at-night');
    expect(idFromText('Keepers trim the wick every evening before the tide turns.')).toBe(
      'keepers-trim-the-wick-every-evening',
    );
    expect(idFromText('   \n\n')).toBeUndefined();
    expect(idFromText('{"a": 1}')).toBeUndefined();
  });

  it('are ids the server accepts', () => {
    const names = ['tides.pdf', 'Tides & Currents (2024).PDF', '~draft.md', '_x_notes.txt', 'a'.repeat(300)];
    for (const name of names) {
      const id = idFromFileName(name);
      expect(id === undefined || documentId.safeParse(id).success, `${name} → ${id}`).toBe(true);
    }
  });
});
