import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '@hopper/redis';
import { connectModern, structured } from '../support/clients.ts';
import { TestStack } from '../support/stack.ts';

let dir: string;
let redis: RedisServer;
let stack: TestStack;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hopper-readiness-'));
  redis = await startRedisServer({ dir, appendOnly: true });
  stack = await TestStack.start({ redisUrl: redis.url });
});

afterAll(async () => {
  await stack?.stop().catch(() => undefined);
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function status(path: string): Promise<{ status: number; body: { checks?: Record<string, string> } }> {
  const response = await fetch(stack.url.replace('/mcp', path));
  return { status: response.status, body: (await response.json()) as { checks?: Record<string, string> } };
}

describe('health and readiness', () => {
  it('reports not ready while Redis is down, stays alive, and recovers when Redis returns', async () => {
    expect((await status('/readyz')).status).toBe(200);

    await redis.stop();
    const down = await status('/readyz');
    expect(down.status).toBe(503);
    expect(down.body.checks?.redis).not.toBe('ok');
    expect(down.body.checks?.store).toBe('ok');
    expect((await status('/healthz')).status).toBe(200);

    // Same port, same append-only file: the gateway reconnects on its own.
    redis = await startRedisServer({ dir, appendOnly: true, port: redis.port });
    let ready = await status('/readyz');
    while (ready.status !== 200) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      ready = await status('/readyz');
    }
    const client = await connectModern(stack.url);
    const out = structured<{ state: string }>(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: 'Back online.', documentId: 'again' },
      }),
    );
    expect(out.state).toBe('completed');
    await client.close();
  });
});
