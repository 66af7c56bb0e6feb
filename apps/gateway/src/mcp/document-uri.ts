/**
 * The document resource's URI template (RFC 6570): a document of the default collection. Clients
 * see it in `resources/templates/list`; `resources/read` and `subscriptions/listen` read it.
 */
export const DOCUMENT_URI_TEMPLATE = 'hopper://documents/{+documentId}';

/** What every document URI starts with: the template up to its one variable. */
const DOCUMENT_URI_PREFIX = DOCUMENT_URI_TEMPLATE.slice(0, DOCUMENT_URI_TEMPLATE.indexOf('{'));

/**
 * The document id a URI names under {@link DOCUMENT_URI_TEMPLATE}, percent-decoded as the template's
 * reserved expansion calls for (`guides%2Fsetup.md` and `guides/setup.md` are one document), or
 * `undefined` for another URI, an empty id or a malformed escape.
 */
export function documentIdOfUri(uri: string): string | undefined {
  if (!uri.startsWith(DOCUMENT_URI_PREFIX)) return undefined;
  try {
    const documentId = decodeURIComponent(uri.slice(DOCUMENT_URI_PREFIX.length));
    return documentId === '' ? undefined : documentId;
  } catch {
    return undefined;
  }
}
