import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exists, read, repo } from './support/manifests.ts';

/** The images Hopper builds, each from infra/docker/<app>.Dockerfile. */
const images = ['gateway', 'worker'] as const;

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions, with line continuations joined and comments dropped. */
function instructions(path: string): Instruction[] {
  return read(path)
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions of the last stage (the image that runs). */
function finalStage(all: Instruction[]): Instruction[] {
  const lastFrom = all.map((i) => i.keyword).lastIndexOf('FROM');
  return all.slice(lastFrom);
}

describe.each(images)('infra/docker/%s.Dockerfile', (app) => {
  const path = `infra/docker/${app}.Dockerfile`;
  const all = instructions(path);
  const runtime = finalStage(all);
  const args = Object.fromEntries(
    all
      .filter((i) => i.keyword === 'ARG' && i.args.includes('='))
      .map((i) => i.args.split('=', 2) as [string, string]),
  );

  it('builds in stages from a pinned Node base image matching .nvmrc', () => {
    const froms = all.filter((i) => i.keyword === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const nodeMajor = read('.nvmrc').trim();
    for (const from of froms) {
      const image = from.args
        .split(/\s+/)
        .find((word) => !word.startsWith('--') && word !== 'AS')
        ?.replace(/\$\{(\w+)\}/g, (_, name: string) => args[name] ?? '');
      if (!image || !image.includes(':')) {
        // A stage built on an earlier stage of this file.
        expect(
          froms.some((f) => f.args.endsWith(` AS ${image}`)),
          from.args,
        ).toBe(true);
        continue;
      }
      // A full version, a Debian (glibc) variant: LanceDB's native engine is built for glibc.
      expect(image).toMatch(new RegExp(`^node:${nodeMajor}\\.\\d+\\.\\d+-(bookworm|trixie)-slim$`));
    }
  });

  it('installs production dependencies only and checks that the LanceDB engine loads', () => {
    const installs = all.filter((i) => i.keyword === 'RUN' && /npm (ci|install)\b/.test(i.args));
    expect(installs.length).toBeGreaterThan(0);
    for (const install of installs) expect(install.args).toContain('--omit=dev');
    expect(all.some((i) => i.keyword === 'RUN' && i.args.includes("import('@lancedb/lancedb')"))).toBe(true);
  });

  it('runs as a non-root user, with a health check, the app entry point and the port it serves', () => {
    const user = runtime.filter((i) => i.keyword === 'USER').pop();
    expect(user?.args).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user?.args);
    expect(runtime.some((i) => i.keyword === 'HEALTHCHECK' && i.args.includes('/healthz'))).toBe(true);

    const cmd = runtime.filter((i) => i.keyword === 'CMD').pop();
    const entry = (JSON.parse(cmd?.args ?? '[]') as string[]).find((a) => a.endsWith('.ts'));
    expect(entry).toBe(`apps/${app}/src/main.ts`);
    expect(exists(entry ?? '')).toBe(true);

    // The port the image exposes is the port its own environment gives the app.
    const env = runtime
      .filter((i) => i.keyword === 'ENV')
      .map((i) => i.args)
      .join(' ');
    const portVariable = app === 'gateway' ? 'HOPPER_PORT' : 'HOPPER_WORKER_METRICS_PORT';
    const port = new RegExp(`${portVariable}=(\\d+)`).exec(env)?.[1];
    expect(runtime.find((i) => i.keyword === 'EXPOSE')?.args).toBe(port);
  });

  it('copies only sources that exist, and the runtime stage gets no tests or other apps', () => {
    for (const copy of all.filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))) {
      const [source = ''] = copy.args.split(/\s+/);
      if (source !== '.') expect(exists(source), source).toBe(true);
    }
    const sources = runtime
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))
      .map((i) => i.args.split(/\s+/)[0]);
    for (const source of sources) expect(['libs/', `apps/${app}/`]).toContain(source);
  });
});

describe('.dockerignore', () => {
  it('keeps dependencies, history, local data and tests out of the build context', () => {
    const patterns = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const needed of ['**/node_modules', '.git', '.hopper', 'test', '**/*.test.ts', '.env']) {
      expect(patterns).toContain(needed);
    }
  });
});

describe('production dependencies', () => {
  it('cover every package the gateway, the worker and the libs import at run time', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    const dirs = [
      'apps/gateway/src',
      'apps/worker/src',
      ...readdirSync(repo('libs')).map((lib) => `libs/${lib}/src`),
    ];
    const missing = new Set<string>();
    for (const dir of dirs) {
      if (!exists(dir)) continue;
      for (const file of readdirSync(repo(dir), { recursive: true }) as string[]) {
        if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
        const source = read(`${dir}/${file}`);
        for (const [, typeOnly, specifier = ''] of source.matchAll(
          /^(?:import|export)(\s+type)?\s[^'"]*?from\s+'([^']+)'/gm,
        )) {
          if (typeOnly || specifier.startsWith('.') || specifier.startsWith('node:')) continue;
          if (specifier.startsWith('@hopper/')) continue;
          const name = specifier.startsWith('@')
            ? specifier.split('/').slice(0, 2).join('/')
            : specifier.split('/')[0];
          if (name && !(name in pkg.dependencies)) missing.add(`${name} (${dir}/${file})`);
        }
      }
    }
    expect([...missing]).toEqual([]);
  });
});
