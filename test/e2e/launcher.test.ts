import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectModern, getJob, structured, waitForJobEnd } from '../support/clients.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { paragraphsAbout } from '../support/fault-documents.ts';

// `npm start`'s entry point: the Node version check, then the launcher (main.ts).
const launcher = fileURLToPath(new URL('../../apps/stack/src/launch.cjs', import.meta.url));

/** A Node older than Hopper supports installed on this machine (Debian's Node 20), if any. */
function oldNode(): string | undefined {
  let found: string[];
  try {
    found = execFileSync('which', ['-a', 'node'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    return undefined;
  }
  return found.find((node) => {
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    return Number(/^v(\d+)/.exec(version)?.[1]) < 22;
  });
}

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hopper-launcher-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** Runs `npm start`'s entry point the way a user does, with the environment given. */
function launch(env: Record<string, string | undefined>, node = process.execPath) {
  const child = spawn(node, [launcher], {
    env: env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

/** Polls the launcher's output until `found` returns something; fails if the launcher exits first. */
async function until<T>(run: ReturnType<typeof launch>, found: () => T | undefined): Promise<T> {
  for (;;) {
    const value = found();
    if (value !== undefined) return value;
    if (run.child.exitCode !== null) throw new Error(`launcher exited: ${run.output().stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The pid of the launcher's worker process once it is spawned (read from /proc: Linux only). */
async function workerProcess(run: ReturnType<typeof launch>): Promise<number> {
  for (;;) {
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const [stat, cmdline] = await Promise.all([
        readFile(`/proc/${entry}/stat`, 'utf8').catch(() => ''),
        readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => ''),
      ]);
      // The parent pid is the 4th field, after "pid (comm) state".
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === run.child.pid && cmdline.includes('worker/src/main.ts')) return Number(entry);
    }
    if (run.child.exitCode !== null) throw new Error(`launcher exited: ${run.output().stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('npm start', () => {
  it('starts a private Redis, the gateway and a worker, serves MCP, and stops cleanly on Ctrl-C', async () => {
    const env = { ...process.env, REDIS_URL: undefined, HOPPER_DATA_DIR: dataDir, HOPPER_PORT: '0' };
    const run = launch(env);
    let url: string | undefined;
    while (!url) {
      const match = /MCP endpoint\s+(\S+)/.exec(run.output().stdout);
      if (match) url = match[1];
      else if (run.child.exitCode !== null) throw new Error(`launcher exited: ${run.output().stderr}`);
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(run.output().stdout).toMatch(/Redis\s+redis:\/\/127\.0\.0\.1:\d+ \(private/);
    expect(run.output().stdout).toMatch(/\(worker: http:\/\/127\.0\.0\.1:\d+\/metrics\)/);

    const client = await connectModern(url);
    const ingested = structured<{ state: string }>(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: 'Owls hunt at dusk.', documentId: 'owls' },
      }),
    );
    expect(ingested.state).toBe('completed');
    await client.close();

    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    // Everything it started is gone: the port no longer answers.
    await expect(fetch(url.replace('/mcp', '/healthz'))).rejects.toThrow();
  });

  it('prints the banner without a worker that is slow to start, then says when it is ready', async () => {
    const env = { ...process.env, REDIS_URL: undefined, HOPPER_DATA_DIR: dataDir, HOPPER_PORT: '0' };
    const run = launch(env);
    // Frozen as soon as it exists, the worker is the slowest cold start there is.
    const worker = await workerProcess(run);
    process.kill(worker, 'SIGSTOP');
    const url = await until(run, () => /MCP endpoint\s+(\S+)/.exec(run.output().stdout)?.[1]);
    expect(run.output().stdout).toMatch(/\(worker: still starting; a line follows when it is ready\)/);
    expect(run.output().stdout).not.toMatch(/not served/);

    process.kill(worker, 'SIGCONT');
    const metrics = await until(
      run,
      () => /hopper: the worker is ready \(metrics: (http:\S+)\)/.exec(run.output().stdout)?.[1],
    );
    expect((await fetch(metrics)).status).toBe(200);
    // And it works: the worker takes an ingest.
    const client = await connectModern(url);
    const ingested = structured<{ state: string }>(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: 'Swifts sleep on the wing.', documentId: 'swifts' },
      }),
    );
    expect(ingested.state).toBe('completed');
    await client.close();
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  });

  it('on Ctrl-C says what it waits for, stops at once on a second Ctrl-C, and the cut caller can find its job', async () => {
    const embeddings = await EmbeddingsDouble.start();
    const ownDir = await mkdtemp(join(tmpdir(), 'hopper-launcher-stop-'));
    try {
      const env = {
        ...process.env,
        ...embeddings.env,
        REDIS_URL: undefined,
        HOPPER_DATA_DIR: ownDir,
        HOPPER_PORT: '0',
      };
      const run = launch(env);
      const url = await until(run, () => /MCP endpoint\s+(\S+)/.exec(run.output().stdout)?.[1]);
      // A long ingest that the caller waits for, with progress.
      embeddings.delayMs = 300;
      const client = await connectModern(url);
      const progressMessages: string[] = [];
      const answered = client
        .callTool(
          {
            name: 'ingest_document',
            arguments: { content: paragraphsAbout('curlew', 300), documentId: 'curlew' },
          },
          { onprogress: (p) => void (p.message && progressMessages.push(p.message)) },
        )
        .then(
          () => true,
          () => false,
        );
      await until(run, () => (progressMessages.some((m) => m.includes('embedding')) ? true : undefined));

      run.child.kill('SIGINT');
      const waiting = await until(run, () =>
        run
          .output()
          .stderr.split('\n')
          .find((line) => line.startsWith('hopper: waiting')),
      );
      expect(waiting).toBe('hopper: waiting up to 10 s for 1 running call; Ctrl-C again to stop now');
      const finishing = await until(run, () =>
        run
          .output()
          .stderr.split('\n')
          .find((line) => line.startsWith('hopper: the worker is finishing')),
      );
      expect(finishing).toMatch(
        /^hopper: the worker is finishing 1 running job \(up to \d+ s, then they go back to the queue\); Ctrl-C again to stop now$/,
      );
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(130);
      expect(run.output().stderr).toContain('hopper: stopping now');
      // The caller's stream was cut before any answer (the client may go on trying to resume it),
      // but every progress notification it had named the job.
      expect(await Promise.race([answered, Promise.resolve('no answer')])).toBe('no answer');
      void client.close().catch(() => undefined);
      const jobId = /^job (\S+): /.exec(progressMessages.at(-1) ?? '')?.[1];
      expect(jobId).toBeDefined();

      // Started again, Hopper has the job, and runs it to the end: nothing was lost.
      embeddings.delayMs = 0;
      const again = launch(env);
      const url2 = await until(again, () => /MCP endpoint\s+(\S+)/.exec(again.output().stdout)?.[1]);
      const client2 = await connectModern(url2);
      expect((await getJob(client2, jobId!)).documentId).toBe('curlew');
      expect((await waitForJobEnd(client2, jobId!)).state).toBe('completed');
      await client2.close();
      again.child.kill('SIGINT');
      expect(await again.exited).toBe(0);
    } finally {
      await embeddings.stop();
      await rm(ownDir, { recursive: true, force: true });
    }
  });

  it('restarts a worker that dies, with back-off and a log line, and keeps serving', async () => {
    const env = { ...process.env, REDIS_URL: undefined, HOPPER_DATA_DIR: dataDir, HOPPER_PORT: '0' };
    const run = launch(env);
    const url = await until(run, () => /MCP endpoint\s+(\S+)/.exec(run.output().stdout)?.[1]);
    // The worker logs its pid on every line; a new pid is a new worker process.
    const workerPids = () =>
      run
        .output()
        .stdout.split('\n')
        .filter((line) => line.includes('"worker ready"'))
        .map((line) => (JSON.parse(line) as { pid: number }).pid);
    const first = await until(run, () => workerPids()[0]);

    // Killed the way the kernel kills a process out of memory, twice in a row: the second restart
    // waits twice as long, since the worker did not stay up in between.
    process.kill(first, 'SIGKILL');
    const second = await until(run, () => workerPids()[1]);
    process.kill(second, 'SIGKILL');
    const third = await until(run, () => workerPids()[2]);
    expect(new Set([first, second, third]).size).toBe(3);
    const restarts = run
      .output()
      .stderr.split('\n')
      .filter((line) => line.includes('restarting'));
    expect(restarts).toEqual([
      'hopper: the worker stopped unexpectedly (SIGKILL); restarting it in 1 s (restart 1)',
      'hopper: the worker stopped unexpectedly (SIGKILL); restarting it in 2 s (restart 2)',
    ]);
    expect(run.child.exitCode).toBeNull();

    // The stack still works end to end: the restarted worker takes the ingest.
    const client = await connectModern(url);
    const ingested = structured<{ state: string }>(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: 'Bats hunt at night.', documentId: 'bats' },
      }),
    );
    expect(ingested.state).toBe('completed');
    await client.close();

    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    await expect(fetch(url.replace('/mcp', '/healthz'))).rejects.toThrow();
  });

  it('restarts a gateway that dies, and says where it listens now', async () => {
    const env = { ...process.env, REDIS_URL: undefined, HOPPER_DATA_DIR: dataDir, HOPPER_PORT: '0' };
    const run = launch(env);
    const url = await until(run, () => /MCP endpoint\s+(\S+)/.exec(run.output().stdout)?.[1]);
    const pid = await until(run, () => {
      const line = run
        .output()
        .stdout.split('\n')
        .find((l) => l.includes('gateway listening'));
      return line ? (JSON.parse(line) as { pid: number }).pid : undefined;
    });
    process.kill(pid, 'SIGKILL');
    // HOPPER_PORT=0: the new gateway has a new port, which the launcher prints.
    const moved = await until(run, () => /the gateway now listens at (\S+)/.exec(run.output().stderr)?.[1]);
    expect(run.output().stderr).toContain(
      'hopper: the gateway stopped unexpectedly (SIGKILL); restarting it in 1 s (restart 1)',
    );
    expect(moved).not.toBe(url);
    const client = await connectModern(moved);
    const ingested = structured<{ state: string }>(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: 'Moths fly at night.', documentId: 'moths' },
      }),
    );
    expect(ingested.state).toBe('completed');
    await client.close();
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  });

  it('stops everything on Ctrl-C while a dead worker waits for its restart', async () => {
    const env = { ...process.env, REDIS_URL: undefined, HOPPER_DATA_DIR: dataDir, HOPPER_PORT: '0' };
    const run = launch(env);
    const url = await until(run, () => /MCP endpoint\s+(\S+)/.exec(run.output().stdout)?.[1]);
    const pid = await until(run, () => {
      const line = run
        .output()
        .stdout.split('\n')
        .find((l) => l.includes('"worker ready"'));
      return line ? (JSON.parse(line) as { pid: number }).pid : undefined;
    });
    process.kill(pid, 'SIGKILL');
    await until(run, () => (run.output().stderr.includes('restarting it in') ? true : undefined));
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    await expect(fetch(url.replace('/mcp', '/healthz'))).rejects.toThrow();
    // No worker was started after the Ctrl-C.
    expect(
      run
        .output()
        .stdout.split('\n')
        .filter((l) => l.includes('"worker ready"')),
    ).toHaveLength(1);
  });

  const old = oldNode();
  it.skipIf(!old)('on a Node older than 22.19, says in one line which Node to install', async () => {
    const run = launch({ ...process.env, HOPPER_DATA_DIR: dataDir }, old);
    expect(await run.exited).toBe(1);
    const lines = run.output().stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^hopper: Node\.js \d+\.\d+\.\d+ is too old: Hopper needs Node\.js 22\.19 or newer\. Install Node\.js 24 LTS/,
    );
    expect(run.output().stdout).toBe('');
  });

  const oldNpm = old ? join(dirname(old), 'npm') : undefined;
  it.skipIf(!oldNpm || !existsSync(oldNpm))(
    'npm start under that Node stops with the same line',
    async () => {
      const child = spawn(oldNpm!, ['start'], {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        env: { ...process.env, PATH: `${dirname(old!)}:/usr/bin:/bin`, HOPPER_DATA_DIR: dataDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).not.toBe(0);
      expect(stderr).toMatch(
        /^hopper: Node\.js \d+\.\d+\.\d+ is too old: Hopper needs Node\.js 22\.19 or newer/m,
      );
      // Stopped before anything that needs a newer Node ran.
      expect(stderr).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION/);
    },
  );

  it('explains in one line what to do when redis-server is missing', async () => {
    const env = { PATH: dirname(process.execPath), HOME: process.env.HOME, HOPPER_DATA_DIR: dataDir };
    const run = launch(env);
    expect(await run.exited).toBe(1);
    const lines = run.output().stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/redis-server was not found on PATH: install Redis .* or set REDIS_URL/);
  });

  it('reports every configuration problem at once, naming the variables', async () => {
    const run = launch({
      ...process.env,
      HOPPER_EMBEDDINGS_PROVIDER: 'openai',
      HOPPER_LOG_LEVEL: 'chatty',
      HOPPER_DATA_DIR: dataDir,
    });
    expect(await run.exited).toBe(1);
    const { stderr } = run.output();
    expect(stderr).toMatch(/HOPPER_EMBEDDINGS_URL: is required when HOPPER_EMBEDDINGS_PROVIDER=openai/);
    expect(stderr).toMatch(/HOPPER_EMBEDDINGS_MODEL: is required/);
    expect(stderr).toMatch(/HOPPER_LOG_LEVEL/);
  });
});
