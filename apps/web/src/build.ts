import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Builds the progress page into apps/web/dist (index.html, assets/app.js, assets/app.css), which
 * the gateway serves at `/`. `npm start` and `npm test` run it first (npm's prestart/pretest), so
 * a fresh clone needs no manual step. It takes well under a second.
 *
 * The bundle is written to a temporary directory and moved into place, so a gateway (or a second
 * build running at the same time) never sees half a bundle.
 */
async function main(): Promise<void> {
  const page = fileURLToPath(new URL('./page/', import.meta.url));
  const dist = fileURLToPath(new URL('../dist', import.meta.url));
  const staging = `${dist}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(`${staging}/assets`, { recursive: true });

  const started = performance.now();
  await build({
    // main.ts imports styles.css, so esbuild writes app.css beside app.js.
    entryPoints: { app: `${page}main.ts` },
    outdir: `${staging}/assets`,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
    entryNames: '[name]',
    // The page links these fixed names; the gateway serves them with revalidation.
  });
  await copyFile(`${page}index.html`, `${staging}/index.html`);

  // Swap in the new bundle: move the old one aside first (rename cannot replace a directory).
  const old = `${dist}.old-${process.pid}`;
  await rename(dist, old).catch(() => undefined);
  try {
    await rename(staging, dist);
  } catch (error) {
    // Another build running at the same time put its bundle in place first: same sources, keep it.
    if (
      (error as NodeJS.ErrnoException).code !== 'ENOTEMPTY' &&
      (error as NodeJS.ErrnoException).code !== 'EEXIST'
    ) {
      throw error;
    }
    await rm(staging, { recursive: true, force: true });
  }
  await rm(old, { recursive: true, force: true });
  process.stdout.write(`progress page built in ${Math.round(performance.now() - started)} ms: ${dist}\n`);
}

await main();
