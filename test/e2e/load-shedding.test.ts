import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectLegacy, connectModern, structured } from '../support/clients.ts';
import { TestStack } from '../support/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  // One request at a time, and no worker: an ingest that waits for its job holds the only slot.
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    workers: 0,
    env: { HOPPER_MAX_INFLIGHT: '1' },
  });
});

afterAll(async () => {
  await stack?.stop();
});

const endpoint = (path: string) => stack.url.replace('/mcp', path);

describe('load shedding', () => {
  it('answers 503 with Retry-After at once when full, keeps health and metrics up, and recovers', async () => {
    const modern = await connectModern(stack.url);
    const legacy = await connectLegacy(stack.url);
    const holder = await connectModern(stack.url);
    const hold = new AbortController();
    const held = holder
      .callTool(
        { name: 'ingest_document', arguments: { content: 'Waits for a worker that never comes.' } },
        { signal: hold.signal },
      )
      .catch(() => 'aborted');

    // Once the waiting call holds the only slot (an operator sees it in /metrics)...
    while (!/^hopper_inflight_requests\{[^}]*\} 1$/m.test(await (await fetch(endpoint('/metrics'))).text())) {
      await sleep(20);
    }
    // ...REST is refused at once with 503 and Retry-After.
    const rest = await fetch(endpoint('/v1/jobs'));
    expect(rest.status).toBe(503);
    expect(rest.headers.get('retry-after')).toBe('1');
    expect(await rest.json()).toEqual({
      error: {
        code: 'busy',
        message: 'Hopper is busy (at its limit of 1 requests in progress); retry after 1 s',
      },
    });

    // MCP: a JSON-RPC error body, which both SDK clients put in the error they throw.
    const raw = await fetch(stack.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    expect(raw.status).toBe(503);
    expect(raw.headers.get('retry-after')).toBe('1');
    expect(await raw.json()).toMatchObject({
      jsonrpc: '2.0',
      error: { code: -32000, data: { code: 'busy', retryAfterSeconds: 1 } },
    });
    await expect(modern.callTool({ name: 'list_jobs', arguments: {} })).rejects.toThrow(
      /Hopper is busy .*retry after 1 s/,
    );
    await expect(legacy.callTool({ name: 'list_jobs', arguments: {} })).rejects.toThrow(
      /Hopper is busy .*retry after 1 s/,
    );

    // Health, readiness and metrics are never shed.
    expect((await fetch(endpoint('/healthz'))).status).toBe(200);
    expect((await fetch(endpoint('/readyz'))).status).toBe(200);
    const metrics = await fetch(endpoint('/metrics'));
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^hopper_shed_requests_total\{[^}]*reason="inflight"[^}]*\} [1-9]/m);

    // The waiting call goes away: its client's cancellation (a notification, never shed) cancels the
    // job, the call ends and requests are served again.
    hold.abort();
    await held;
    let status = 503;
    while (status !== 200) {
      await sleep(20);
      status = (await fetch(endpoint('/v1/jobs'))).status;
    }
    structured(await modern.callTool({ name: 'list_jobs', arguments: {} }));
    await Promise.all([modern.close(), legacy.close(), holder.close()]);
  });
});
