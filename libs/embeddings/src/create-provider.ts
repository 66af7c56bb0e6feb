import type { EmbeddingsSettings } from '@hopper/contracts';
import { createBuiltinEmbedder } from './builtin.ts';
import { createOpenAIEmbedder } from './openai.ts';
import type { EmbeddingProvider } from './provider.ts';

/**
 * Which embedding provider to use, as parsed from the environment by each app's `loadConfig`
 * (the shape is part of the configuration contract). `builtin` needs no network and is the default;
 * `openai` is any OpenAI-compatible server.
 */
export type EmbeddingsConfig = EmbeddingsSettings;

/** Builds the provider a config names. Connects to nothing: the first request happens on `embed`. */
export function createEmbeddingProvider(config: EmbeddingsConfig): EmbeddingProvider {
  switch (config.provider) {
    case 'builtin':
      return createBuiltinEmbedder({ dimensions: config.dimensions });
    case 'openai': {
      const { provider: _provider, ...options } = config;
      return createOpenAIEmbedder(options);
    }
  }
}
