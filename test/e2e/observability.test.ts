import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectModern, structured } from '../support/clients.ts';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { TestStack } from '../support/stack.ts';

let receiver: OtlpReceiver;
let stack: TestStack;
let client: Client;

beforeAll(async () => {
  receiver = await OtlpReceiver.start();
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, HOPPER_SLOW_CALL_MS: '1' },
  });
  client = await connectModern(stack.url);
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
  await receiver?.stop();
});

async function spansUntil(predicate: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]> {
  while (!predicate(receiver.spans)) await new Promise((resolve) => setTimeout(resolve, 50));
  return receiver.spans;
}

describe('tracing', () => {
  it('follows one ingest_document call across the gateway, the queue and the worker in one trace', async () => {
    const out = structured<{ jobId: string }>(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: '# Tracing\n\nOne trace per call, across processes.', documentId: 'traced' },
      }),
    );
    // Each process exports on its own schedule: wait for both ends of the trace.
    const spans = await spansUntil(
      (all) =>
        all.some((s) => s.name === 'process hopper-ingest' && s.attributes['hopper.job.id'] === out.jobId) &&
        all.some((s) => s.name === 'tools/call ingest_document'),
    );
    const call = spans.find((s) => s.name === 'tools/call ingest_document');
    expect(call?.service).toBe('hopper-gateway');
    expect(call?.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'ingest_document',
    });
    const trace = spans.filter((s) => s.traceId === call!.traceId);
    const send = trace.find((s) => s.name === 'send hopper-ingest');
    const processSpan = trace.find((s) => s.name === 'process hopper-ingest');
    expect(send?.attributes['hopper.job.id']).toBe(out.jobId);
    expect(send?.parentSpanId).toBe(call!.spanId);
    expect(processSpan?.service).toBe('hopper-worker');
    expect(processSpan?.parentSpanId).toBe(send!.spanId);
    expect(BigInt(processSpan!.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(send!.startTimeUnixNano));
    // The worker's own steps are in the same trace, in the order they ran: parse and chunk (one
    // step: they run together in the parse thread), embedding batches, and the store write that
    // makes the new version visible.
    const steps = await spansUntil((all) =>
      all.some((s) => s.traceId === call!.traceId && s.name === 'store.replaceDocument'),
    ).then((all) =>
      all
        .filter((s) => s.traceId === call!.traceId && s.service === 'hopper-worker')
        .sort((x, y) => (BigInt(x.startTimeUnixNano) < BigInt(y.startTimeUnixNano) ? -1 : 1))
        .map((s) => s.name),
    );
    expect(steps[0]).toBe('process hopper-ingest');
    const order = ['parse and chunk', 'embed batch', 'store.replaceDocument'].map((name) =>
      steps.indexOf(name),
    );
    expect(order.every((index) => index > 0)).toBe(true);
    expect([...order].sort((x, y) => x - y)).toEqual(order);
  });

  it('logs slow calls with the trace id of their span', async () => {
    await client.callTool({ name: 'search', arguments: { query: 'one trace per call' } });
    const gateway = stack.gateways[0]!;
    for (;;) {
      const slow = gateway.lines.find((l) => l.includes('slow tool call') && l.includes('"tool":"search"'));
      if (slow) {
        const entry = JSON.parse(slow) as { traceId?: string };
        expect(entry.traceId).toMatch(/^[0-9a-f]{32}$/);
        await spansUntil((all) =>
          all.some((s) => s.traceId === entry.traceId && s.name === 'tools/call search'),
        );
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
});

describe('metrics', () => {
  async function scrape(url: string): Promise<string> {
    const response = await fetch(url);
    expect(response.status).toBe(200);
    return response.text();
  }

  /** The value of the sample `name{labels}` (labels in any order, extra labels allowed), or NaN. */
  function value(text: string, name: string, labels: Record<string, string>): number {
    for (const line of text.split('\n')) {
      const match = /^([a-z_:]+)\{([^}]*)\} (\S+)$/.exec(line);
      if (!match || match[1] !== name) continue;
      const found: Record<string, string | undefined> = Object.fromEntries(
        [...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m): [string, string | undefined] => [
          m[1] ?? '',
          m[2],
        ]),
      );
      if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
    }
    return NaN;
  }

  it('exports call histograms, cache counters and queue gauges at /metrics', async () => {
    const metricsUrl = stack.url.replace('/mcp', '/metrics');
    const calls = 'hopper_mcp_operation_duration_seconds_count';
    const before = value(await scrape(metricsUrl), calls, { tool: 'get_document', outcome: 'ok' });
    for (let i = 0; i < 5; i++)
      await client.callTool({ name: 'get_document', arguments: { documentId: 'traced' } });
    await client.callTool({ name: 'get_document', arguments: { documentId: 'missing' } });
    const text = await scrape(metricsUrl);
    const ok = value(text, calls, { tool: 'get_document', outcome: 'ok' });
    expect(ok - (Number.isNaN(before) ? 0 : before)).toBe(5);
    expect(value(text, calls, { tool: 'get_document', outcome: 'error' })).toBe(1);
    const l1Hits = value(text, 'hopper_cache_requests_total', {
      cache: 'result',
      layer: 'l1',
      result: 'hit',
    });
    expect(l1Hits).toBeGreaterThanOrEqual(4);
    expect(
      value(text, 'hopper_queue_jobs', { queue: 'hopper-ingest', state: 'completed' }),
    ).toBeGreaterThanOrEqual(1);
    expect(value(text, 'hopper_progress_lag_seconds_count', { service: 'gateway' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(
      value(text, 'hopper_redis_command_duration_seconds_count', { command: 'hgetall' }),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    // LanceDB's caches are bounded by the session the store passes; an empty one would mean the
    // session is not in use (as when @lancedb/lancedb dropped it) and the caches are unbounded.
    expect(value(text, 'hopper_store_cache_bytes', { service: 'gateway' })).toBeGreaterThan(0);
  });

  it("exports job durations on the worker's own metrics port", async () => {
    const line = stack.workers[0]!.lines.find((l) => l.includes('worker metrics at /metrics'));
    const port = (JSON.parse(line!) as { port: number }).port;
    const text = await scrape(`http://127.0.0.1:${port}/metrics`);
    const jobs = value(text, 'hopper_job_duration_seconds_count', { kind: 'ingest', outcome: 'completed' });
    expect(jobs).toBeGreaterThanOrEqual(1);
    expect(value(text, 'hopper_store_cache_bytes', { service: 'worker' })).toBeGreaterThan(0);
  });
});
