import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium, type Browser } from '../support/chromium.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { baseUrl } from '../support/socket-client.ts';
import { TestStack } from '../support/stack.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** Screenshots for a person to look at (gitignored). */
const shots = `${root}test-output/page`;

function story(word: string, paragraphs: number): string {
  return Array.from({ length: paragraphs }, (_, i) =>
    `Paragraph ${i} tells how ${word} work along the harbour wall at night. `.repeat(12),
  ).join('\n\n');
}

let stack: TestStack;
let embeddings: EmbeddingsDouble;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  // The page is served from its built bundle; build it as `npm test` does, so this file also runs alone.
  await promisify(execFile)(process.execPath, [`${root}apps/web/src/build.ts`]);
  await mkdir(shots, { recursive: true });
  embeddings = await EmbeddingsDouble.start();
  stack = await TestStack.start({ redisUrl: inject('redisUrl'), env: embeddings.env });
  browser = await launchChromium({ width: 1280, height: 900 });
  page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(`${baseUrl(stack.url)}/`);
  await page.locator('#connection[data-status="live"]').waitFor();
  expect(errors).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await embeddings?.stop();
});

/** The row of the job ingesting `documentId`. */
const row = (documentId: string) =>
  page.locator('.job', { has: page.locator('.job-title', { hasText: documentId }) });

/** Waits until the bar's fill has finished its transition to the width it shows. */
async function settled(documentId: string): Promise<void> {
  await row(documentId)
    .locator('.bar-fill')
    .evaluate(
      (fill) =>
        new Promise<void>((resolve) => {
          if (fill.getAnimations().length === 0) return resolve();
          void Promise.all(fill.getAnimations().map((a) => a.finished)).then(() => resolve());
        }),
    );
}

describe('the progress page', () => {
  it('ingests pasted text and shows its bar moving to 100 %', async () => {
    embeddings.delayMs = 120;
    await page.fill('#ingest-text', `# Lamplighters\n\n${story('lamplighters', 300)}`);
    await page.fill('#ingest-id', 'lamplighters');
    await page.click('#ingest-submit');
    await expect.poll(() => page.textContent('#ingest-status')).toMatch(/Queued lamplighters/);

    // Live progress: the bar moves through intermediate values before the end.
    const job = row('lamplighters');
    await job
      .locator('.percent')
      .filter({ hasText: /^([1-9]\d?)%$/ })
      .waitFor();
    const midway = Number(await job.getAttribute('data-progress'));
    expect(midway).toBeGreaterThan(0);
    expect(midway).toBeLessThan(100);
    await expect.poll(() => job.locator('.job-message').textContent()).toMatch(/embedding/);
    await page.screenshot({ path: `${shots}/1-ingest-in-progress.png` });

    await page.locator('.job[data-state="completed"]', { hasText: 'lamplighters' }).waitFor();
    expect(await job.getAttribute('data-progress')).toBe('100');
    expect(await job.locator('[role="progressbar"]').getAttribute('aria-valuenow')).toBe('100');
    expect(await job.locator('.percent').textContent()).toBe('100%');
    expect(await job.locator('.job-message').textContent()).toMatch(/done · \d+ chunks · version 1/);
    expect(await job.locator('.cancel').isVisible()).toBe(false);
    await settled('lamplighters');
    await page.screenshot({ path: `${shots}/2-ingest-completed.png` });
  });

  it('uploads a file and cancels the running job', async () => {
    embeddings.delayMs = 200;
    await page.click('#tab-file');
    await page.setInputFiles('#ingest-file', {
      name: 'ferrymen.md',
      mimeType: 'text/markdown',
      buffer: Buffer.from(`# Ferrymen\n\n${story('ferrymen', 300)}`),
    });
    expect(await page.textContent('#file-label')).toBe('ferrymen.md');
    await page.fill('#ingest-id', 'ferrymen');
    await page.click('#ingest-submit');

    const job = row('ferrymen');
    await job.locator('.job-message', { hasText: 'embedding' }).waitFor();
    await job.locator('.cancel').click();
    await page.locator('.job[data-state="cancelled"]', { hasText: 'ferrymen' }).waitFor();
    expect(await job.locator('.state').textContent()).toBe('cancelled');
    expect(await job.locator('.cancel').isVisible()).toBe(false);
    // The server agrees: the job is cancelled, not merely hidden.
    const jobId = await job.getAttribute('data-job-id');
    const record = (await (await fetch(`${baseUrl(stack.url)}/v1/jobs/${jobId}`)).json()) as {
      state: string;
    };
    expect(record.state).toBe('cancelled');
    await settled('ferrymen');
    await page.screenshot({ path: `${shots}/3-cancelled.png` });
    embeddings.delayMs = 0;
  });

  it('runs a search and shows the matching passages', async () => {
    await page.fill('#search-query', 'lamplighters harbour wall');
    await page.click('#search-submit');
    const first = page.locator('#search-results .result').first();
    await first.waitFor();
    expect(await first.locator('.result-doc').textContent()).toBe('lamplighters');
    expect(await first.locator('.result-text').textContent()).toMatch(
      /lamplighters work along the harbour wall/,
    );
    expect(await page.textContent('#search-status')).toMatch(/\d+ results? in \d+ ms/);
    // The cancelled ingest wrote nothing.
    expect(await page.locator('#search-results .result-doc', { hasText: 'ferrymen' }).count()).toBe(0);
    await page.screenshot({ path: `${shots}/4-search.png`, fullPage: true });
  });

  it('fits a narrow screen without sideways scrolling', async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    // One column: the jobs list sits below the form, at full width.
    const form = await page.locator('section.ingest').boundingBox();
    const jobs = await page.locator('section.jobs').boundingBox();
    expect(jobs!.y).toBeGreaterThan(form!.y + form!.height - 1);
    expect(Math.abs(jobs!.width - form!.width)).toBeLessThan(2);
    await page.screenshot({ path: `${shots}/5-narrow.png`, fullPage: true });
  });
});
