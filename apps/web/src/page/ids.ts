/**
 * Document ids the page proposes when the person gives none: readable ones, from the file's name
 * (`tides.pdf` → `tides`) or the text's title, instead of the server's content-hash id
 * (`doc_3f9a…`), which says nothing in a list. They satisfy the server's documentId rule (letters,
 * digits and . _ : @ / - ~, starting with a letter, a digit or ~; up to 256 characters).
 */

/** Words of a title kept in an id: enough to tell documents apart, short enough to read. */
const MAX_WORDS = 6;
const MAX_CHARS = 64;

/** `Tides & Currents (2024).pdf` → `tides-currents-2024`; undefined when nothing usable is left. */
export function idFromFileName(fileName: string): string | undefined {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  const stem = base.includes('.') && !base.startsWith('.') ? base.slice(0, base.lastIndexOf('.')) : base;
  return slug(stem);
}

/** The first Markdown heading, else the first words of the first line: `# Lamplighters` → `lamplighters`. */
export function idFromText(text: string): string | undefined {
  const lines = text.split('\n').map((line) => line.trim());
  const heading = lines.find((line) => /^#{1,6}\s+\S/.test(line));
  const title = heading?.replace(/^#+\s+/, '') ?? lines.find((line) => line.length > 0);
  if (!title) return undefined;
  const id = slug(title.split(/\s+/).slice(0, MAX_WORDS).join(' '));
  // A first line without a word in it (`{"a": 1}`, `id,name`) names nothing: leave it to the server.
  return id && /\p{L}{3}/u.test(id) ? id : undefined;
}

function slug(text: string): string | undefined {
  const id = text
    .normalize('NFKC')
    .toLowerCase()
    // Anything outside the allowed set (spaces, punctuation, symbols) becomes one dash.
    .replace(/[^\p{L}\p{N}._~]+/gu, '-')
    .replace(/^[-._]+|[-._]+$/g, '')
    .slice(0, MAX_CHARS)
    .replace(/[-._]+$/, '');
  return id.length > 0 ? id : undefined;
}
