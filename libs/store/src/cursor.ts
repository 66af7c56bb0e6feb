import { StoreError } from './store-error.ts';

/** The last (collection, documentId) of a page; the next page starts strictly after it. */
export interface ListPosition {
  collection: string;
  documentId: string;
}

/** An opaque, URL-safe cursor; clients must not build or parse it. */
export function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.collection, position.documentId]), 'utf8').toString(
    'base64url',
  );
}

export function decodeCursor(cursor: string): ListPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (error) {
    throw new StoreError('invalid_cursor', 'The cursor is not one returned by listDocuments', {
      cause: error,
    });
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== 'string' ||
    typeof parsed[1] !== 'string'
  ) {
    throw new StoreError('invalid_cursor', 'The cursor is not one returned by listDocuments');
  }
  return { collection: parsed[0], documentId: parsed[1] };
}
