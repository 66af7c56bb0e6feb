export { DocumentError } from './errors.ts';
export type { DocumentErrorCode } from './errors.ts';
export type { DocumentInput, MediaType, ParsedDocument, Section } from './document.ts';
export { checkDocument, mediaTypeFromName, parseDocument } from './parse.ts';
export type { ParseOptions } from './parse.ts';
export { detectMediaType } from './media-type.ts';
export { SUPPORTED_MEDIA_TYPES } from './parsers/registry.ts';
export { chunkDocument, chunkEmbeddingText, resolveChunkOptions } from './chunk.ts';
export type { Chunk, ChunkOptions } from './chunk.ts';
