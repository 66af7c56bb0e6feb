import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode, warningsOf } from './process.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hopper-harness-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A script file with `source` as its body. */
async function script(name: string, source: string): Promise<string> {
  const path = join(dir, `${name}.mjs`);
  await writeFile(path, source);
  return path;
}

describe('startNode', () => {
  it('resolves on the ready line, counts logged warnings and errors, and stops the process', async () => {
    const path = await script(
      'ready',
      [
        `console.log(JSON.stringify({ level: 40, msg: 'slow' }));`,
        `console.log(JSON.stringify({ level: 50, msg: 'broken' }));`,
        `console.log('listening ' + process.env.GREETING);`,
        `setInterval(() => {}, 1000);`,
      ].join('\n'),
    );
    const started = await startNode('ready', path, {
      env: { ...process.env, GREETING: 'hello' },
      isReady: (line) => line.startsWith('listening '),
    });
    expect(started.readyLine).toBe('listening hello');
    expect(started.errorLines).toHaveLength(1);
    expect(Object.fromEntries(warningsOf(started.pid))).toEqual({ slow: 1, broken: 1 });
    expect(started.ended()).toBeUndefined();
    await started.stop();
    expect(started.ended()).toMatch(/SIGTERM/);
  });

  it('fails with the output when the process exits before it is ready', async () => {
    const path = await script('exits', `console.error('no port given'); process.exit(3);`);
    await expect(startNode('exits', path, { env: process.env, isReady: () => false })).rejects.toThrow(
      /exits exited \(3\) before it was ready:\nno port given/,
    );
  });

  it('kills a process that is not ready in time', async () => {
    const path = await script('silent', `console.log('starting'); setInterval(() => {}, 1000);`);
    await expect(
      startNode('silent', path, { env: process.env, isReady: () => false, readyTimeoutMs: 500 }),
    ).rejects.toThrow(/silent was not ready in 0.5 s:\nstarting/);
  });
});
