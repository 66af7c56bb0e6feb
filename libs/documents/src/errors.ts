/**
 * Why a document could not be turned into text.
 *
 * - `unsupported_media_type`: the format has no parser.
 * - `media_type_mismatch`: the declared type contradicts the content (a PDF sent as `text/plain`).
 * - `undecodable`: the bytes are not valid text in their encoding (UTF-8 unless HTML declares another).
 * - `corrupt`: the content is not a valid file of its format (a damaged PDF, a zip that is no DOCX,
 *   JSON with a syntax error, a CSV with an unclosed quote).
 * - `encrypted`: the file is password-protected.
 * - `no_text`: the file is valid but holds no extractable text (a scanned PDF without a text layer).
 * - `empty`: nothing but whitespace after extraction.
 * - `too_large`: over the caller's size limit, or more memory or time to parse than a worker gives
 *   one document.
 * - `too_complex`: a structure beyond what is read (JSON nesting, a PDF page tree, more chunks than
 *   the document's size allows).
 */
export type DocumentErrorCode =
  | 'unsupported_media_type'
  | 'media_type_mismatch'
  | 'undecodable'
  | 'corrupt'
  | 'encrypted'
  | 'no_text'
  | 'empty'
  | 'too_large'
  | 'too_complex';

/**
 * A document the library refuses to parse. The message is written for the person who sent the
 * document (it says what to change), so callers can pass it through as a tool failure. None of
 * these are worth retrying: the same input fails the same way.
 */
export class DocumentError extends Error {
  /** Stable, machine-readable reason; the message may change wording between versions. */
  readonly code: DocumentErrorCode;

  constructor(code: DocumentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DocumentError';
    this.code = code;
  }
}
