export { EmbeddingError } from './provider.ts';
export type { EmbeddingProvider, EmbedOptions, EmbeddingErrorOptions } from './provider.ts';
export { createBuiltinEmbedder } from './builtin.ts';
export type { BuiltinEmbedder, BuiltinEmbedderOptions } from './builtin.ts';
export { createOpenAIEmbedder } from './openai.ts';
export type { OpenAIEmbedderOptions } from './openai.ts';
export { createEmbeddingProvider } from './create-provider.ts';
export type { EmbeddingsConfig } from './create-provider.ts';
