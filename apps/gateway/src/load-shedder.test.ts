import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadShedder, type ShedReason } from './load-shedder.ts';

let server: Server | undefined;
let shedder: LoadShedder | undefined;

afterEach(async () => {
  shedder?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

/** A server whose requests wait for `release()`, behind the shedder. */
async function serve(options: { maxInflight: number; maxEventLoopLagMs: number }) {
  const shed: ShedReason[] = [];
  const waiting: (() => void)[] = [];
  const current = new LoadShedder({ ...options, onShed: (reason) => shed.push(reason) });
  shedder = current;
  server = createServer((req, res) => {
    const api = req.url?.startsWith('/v1') ? 'rest' : 'mcp';
    if (!current.admit(res, api)) return;
    if (req.url?.endsWith('/wait')) waiting.push(() => res.end('done'));
    else res.end('done');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    shed,
    get: (path: string) => fetch(`${base}${path}`),
    released: () => waiting.splice(0).forEach((release) => release()),
    waiting: () => waiting.length,
  };
}

/** Keeps the event loop busy in stretches, as a process with more work than CPU does. */
async function overload(stretches: number, ms: number): Promise<void> {
  for (let i = 0; i < stretches; i++) {
    const until = performance.now() + ms;
    while (performance.now() < until);
    // Let the sampling timer run between stretches.
    await sleep(1);
  }
}

describe('LoadShedder', () => {
  it('answers 503 with Retry-After past the in-flight cap, in each API’s error format, until calls finish', async () => {
    const s = await serve({ maxInflight: 2, maxEventLoopLagMs: 0 });
    const held = [s.get('/mcp/wait'), s.get('/v1/wait')];
    while (s.waiting() < 2) await sleep(5);

    const mcp = await s.get('/mcp');
    expect(mcp.status).toBe(503);
    expect(mcp.headers.get('retry-after')).toBe('1');
    expect(await mcp.json()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32000,
        message: 'Hopper is busy (at its limit of 2 requests in progress); retry after 1 s',
        data: { code: 'busy', retryAfterSeconds: 1 },
      },
    });
    const rest = await s.get('/v1/jobs');
    expect(rest.status).toBe(503);
    expect(rest.headers.get('retry-after')).toBe('1');
    expect(await rest.json()).toEqual({
      error: {
        code: 'busy',
        message: 'Hopper is busy (at its limit of 2 requests in progress); retry after 1 s',
      },
    });
    expect(s.shed).toEqual(['inflight', 'inflight']);

    s.released();
    await Promise.all(held);
    expect(shedder?.inflight).toBe(0);
    expect((await s.get('/mcp')).status).toBe(200);
  });

  it('sheds while requests pile up and the event loop lags behind, and serves again once it catches up', async () => {
    const s = await serve({ maxInflight: 0, maxEventLoopLagMs: 20 });
    const held = Array.from({ length: 10 }, () => s.get('/mcp/wait'));
    while (s.waiting() < 10) await sleep(5);

    // Stretches of 150 ms push the smoothed lag well past twice the threshold: every request is shed.
    await overload(6, 150);
    const shed = await s.get('/mcp');
    expect(shed.status).toBe(503);
    expect(((await shed.json()) as { error: { message: string } }).error.message).toBe(
      'Hopper is busy (the server is overloaded); retry after 1 s',
    );
    expect(s.shed).toContain('event_loop_lag');

    let status = 503;
    while (status !== 200) {
      await sleep(100);
      status = (await s.get('/v1/jobs')).status;
    }
    s.released();
    await Promise.all(held);
  });

  it('does not shed on lag alone while few requests are in progress: the lag comes from elsewhere', async () => {
    const s = await serve({ maxInflight: 0, maxEventLoopLagMs: 20 });
    await overload(6, 150);
    expect((await s.get('/mcp')).status).toBe(200);
    expect(s.shed).toEqual([]);
  });

  it('does not count one pause as overload', async () => {
    const s = await serve({ maxInflight: 0, maxEventLoopLagMs: 150 });
    const held = Array.from({ length: 10 }, () => s.get('/mcp/wait'));
    while (s.waiting() < 10) await sleep(5);
    // One 300 ms stall (a long garbage collection) moves the smoothed lag by a fifth of it.
    await overload(1, 300);
    expect((await s.get('/mcp')).status).toBe(200);
    expect(s.shed).toEqual([]);
    s.released();
    await Promise.all(held);
  });
});
