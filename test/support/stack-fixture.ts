import { afterAll, beforeAll, inject } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectModern } from './clients.ts';
import { EmbeddingsDouble } from './embeddings-double.ts';
import { TestStack, type StackOptions } from './stack.ts';

/** What a test file works with: its stack, the embeddings API the workers call, and one client. */
export interface StackFixture {
  readonly stack: TestStack;
  readonly embeddings: EmbeddingsDouble;
  /** A modern client connected to the first gateway. */
  readonly client: Client;
}

/**
 * Starts a stack wired to its own embeddings double (the shared test Redis, under a fresh prefix)
 * before the file's tests, and stops it after them. The fields are set once `beforeAll` has run:
 * read them inside tests and hooks, not at the top of the file.
 */
export function useStackWithEmbeddings(options: Omit<StackOptions, 'redisUrl'> = {}): StackFixture {
  const fixture = {} as { stack: TestStack; embeddings: EmbeddingsDouble; client: Client };
  beforeAll(async () => {
    fixture.embeddings = await EmbeddingsDouble.start();
    fixture.stack = await TestStack.start({
      ...options,
      redisUrl: inject('redisUrl'),
      env: { ...fixture.embeddings.env, ...options.env },
    });
    fixture.client = await connectModern(fixture.stack.url);
  });
  afterAll(async () => {
    // Each may be unset when an earlier step of beforeAll failed.
    await fixture.client?.close();
    await fixture.stack?.stop();
    await fixture.embeddings?.stop();
  });
  return fixture;
}
