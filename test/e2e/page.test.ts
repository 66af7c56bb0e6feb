import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium, type Browser } from '../support/chromium.ts';
import { lowContrast } from '../support/contrast.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { baseUrl } from '../support/socket-client.ts';
import { TestStack } from '../support/stack.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** Screenshots for a person to look at (gitignored): test-output/page/, one per view and width. */
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
  browser = await launchChromium({ width: 1280, height: 800 });
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

/** Polls until the assertion holds: a loaded two-core machine may take seconds (expect.poll waits 1 s). */
const eventually = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 20_000, interval: 100 });

const api = (path: string, init?: RequestInit) => fetch(`${baseUrl(stack.url)}${path}`, init);

/** The widths the page is checked at: a laptop and a phone. */
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

/** The job rows a person sees in the jobs view, and the count the view states. */
async function shownJobs(): Promise<{ visible: number; stated: number }> {
  const visible = await page.locator('#jobs-list .job:visible').count();
  const stated = Number(/^(\d+) shown$/.exec((await page.textContent('#jobs-count')) ?? '')?.[1] ?? NaN);
  return { visible, stated };
}

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
  it('puts search at the top, visible without scrolling at desktop and phone widths', async () => {
    for (const viewport of [DESKTOP, PHONE]) {
      await page.setViewportSize(viewport);
      for (const id of ['#search-query', '#search-submit']) {
        const box = (await page.locator(id).boundingBox())!;
        expect(box.y).toBeGreaterThanOrEqual(0);
        expect(box.y + box.height).toBeLessThanOrEqual(viewport.height);
        expect(box.x + box.width).toBeLessThanOrEqual(viewport.width);
      }
      // Search comes before the form and the views: nothing to scroll past.
      const search = (await page.locator('section.search').boundingBox())!;
      const views = (await page.locator('section.views').boundingBox())!;
      expect(search.y).toBeLessThan(views.y);
    }
    await page.setViewportSize(DESKTOP);
  });

  it('ingests pasted text, shows its bar moving to 100 % and clears the id for the next document', async () => {
    embeddings.delayMs = 120;
    await page.fill('#ingest-text', `# Lamplighters\n\n${story('lamplighters', 300)}`);
    await page.fill('#ingest-id', 'lamplighters');
    await page.click('#ingest-submit');
    await eventually(() => page.textContent('#ingest-status')).toMatch(/Queued lamplighters/);
    // The next paste must not silently replace this document.
    expect(await page.inputValue('#ingest-id')).toBe('');
    // The jobs view opens, to show the progress.
    expect(await page.getAttribute('#view-jobs', 'aria-selected')).toBe('true');

    // Live progress: the bar moves through intermediate values before the end.
    const job = row('lamplighters');
    await job
      .locator('.percent')
      .filter({ hasText: /^([1-9]\d?)%$/ })
      .waitFor();
    const midway = Number(await job.getAttribute('data-progress'));
    expect(midway).toBeGreaterThan(0);
    expect(midway).toBeLessThan(100);
    await eventually(() => job.locator('.job-message').textContent()).toMatch(/embedding/);
    await page.screenshot({ path: `${shots}/desktop-1-ingest-in-progress.png` });

    await page.locator('.job[data-state="completed"]', { hasText: 'lamplighters' }).waitFor();
    expect(await job.getAttribute('data-progress')).toBe('100');
    expect(await job.locator('[role="progressbar"]').getAttribute('aria-valuenow')).toBe('100');
    expect(await job.locator('.percent').textContent()).toBe('100%');
    expect(await job.locator('.job-message').textContent()).toMatch(/done · \d+ chunks · version 1/);
    expect(await job.locator('.cancel').isVisible()).toBe(false);
    await settled('lamplighters');
    embeddings.delayMs = 0;
  });

  it('derives the id from an uploaded file name when none is given', async () => {
    await page.click('#tab-file');
    await page.setInputFiles('#ingest-file', {
      name: 'tides.md',
      mimeType: 'text/markdown',
      buffer: Buffer.from('# Tide tables\n\nSpring tides come twice a month, at new and full moon.\n'),
    });
    expect(await page.getAttribute('#ingest-id', 'placeholder')).toBe('tides');
    await page.click('#ingest-submit');
    await eventually(() => page.textContent('#ingest-status')).toMatch(/Queued tides\./);
    await page.locator('.job[data-state="completed"]', { hasText: 'tides' }).waitFor();
    const stored = await api('/v1/documents/tides');
    expect(stored.status).toBe(200);
    expect(((await stored.json()) as { title: string }).title).toBe('tides.md');
  });

  it('asks before replacing an existing document, and keeps it when told to', async () => {
    await page.click('#tab-text');
    // A title that derives the same id as the file above: `# Tides` → `tides`.
    await page.fill('#ingest-text', '# Tides\n\nNeap tides fall between the spring tides.\n');
    expect(await page.getAttribute('#ingest-id', 'placeholder')).toBe('tides');
    await page.click('#ingest-submit');
    const dialog = page.locator('#confirm');
    await dialog.waitFor();
    expect(await page.textContent('#confirm-title')).toBe('Replace tides?');
    expect(await page.textContent('#confirm-text')).toMatch(/already stored .*version 1/);
    await page.screenshot({ path: `${shots}/desktop-2-confirm-replace.png` });
    await page.click('#confirm-cancel');
    await dialog.waitFor({ state: 'hidden' });
    // Set once the dialog's close has reached the page's handler: wait for it.
    await eventually(() => page.textContent('#ingest-status')).toMatch(/Not sent: tides is kept/);
    const kept = (await (await api('/v1/documents/tides')).json()) as { version: number };
    expect(kept.version).toBe(1);

    await page.click('#ingest-submit');
    await dialog.waitFor();
    await page.click('#confirm-ok');
    await eventually(() => page.textContent('#ingest-status')).toMatch(/Queued tides\./);
    await eventually(
      async () => ((await (await api('/v1/documents/tides')).json()) as { version: number }).version,
    ).toBe(2);
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
    await page.click('#ingest-submit');

    const job = row('ferrymen');
    await job.locator('.job-message', { hasText: 'embedding' }).waitFor();
    await job.locator('.cancel').click();
    await page.locator('.job[data-state="cancelled"]', { hasText: 'ferrymen' }).waitFor();
    expect(await job.locator('.state').textContent()).toBe('cancelled');
    expect(await job.locator('.cancel').isVisible()).toBe(false);
    // The server agrees: the job is cancelled, not merely hidden.
    const jobId = await job.getAttribute('data-job-id');
    const record = (await (await api(`/v1/jobs/${jobId}`)).json()) as { state: string };
    expect(record.state).toBe('cancelled');
    await settled('ferrymen');
    embeddings.delayMs = 0;
  });

  it('shows search results with their heading path, the words marked and a way to open the document', async () => {
    await page.fill('#search-query', 'lamplighters harbour wall');
    await page.click('#search-submit');
    const first = page.locator('#search-results .result').first();
    await first.waitFor();
    expect(await first.locator('.result-doc').textContent()).toBe('lamplighters');
    expect(await first.locator('.result-text').textContent()).toMatch(
      /lamplighters work along the harbour wall/,
    );
    expect(await first.locator('.result-path').textContent()).toBe('Lamplighters');
    const marked = (await first.locator('.result-text mark').allTextContents()).map((t) => t.toLowerCase());
    expect(new Set(marked)).toEqual(new Set(['lamplighters', 'harbour', 'wall']));
    expect(await first.locator('.badge.weak').count()).toBe(0);
    expect(await page.textContent('#search-status')).toMatch(/\d+ results? in \d+ ms/);
    // The cancelled ingest wrote nothing.
    expect(await page.locator('#search-results .result-doc', { hasText: 'ferrymen' }).count()).toBe(0);
    await page.screenshot({ path: `${shots}/desktop-3-search.png` });

    // Opening the document shows its details and this search's passages from it.
    await first.locator('.result-doc').click();
    await page.locator('#document-detail').waitFor();
    expect(await page.getAttribute('#view-documents', 'aria-selected')).toBe('true');
    expect(await page.textContent('#document-fields [data-field="id"]')).toBe('lamplighters');
    const doc = (await (await api('/v1/documents/lamplighters')).json()) as { chunks: number };
    expect(await page.textContent('#document-fields [data-field="chunks"]')).toBe(String(doc.chunks));
    expect(await page.locator('#document-chunks .result').count()).toBeGreaterThan(0);
    expect(await page.textContent('#document-chunks-note')).toMatch(
      new RegExp(`of its ${doc.chunks} chunks matched`),
    );
    await page.locator('#document-detail').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${shots}/desktop-4-document.png`, fullPage: true });
  });

  it("lists a document's chunks in order from its details, 20 at a time with Load more", async () => {
    // The details of lamplighters are open (the test above).
    const doc = (await (await api('/v1/documents/lamplighters')).json()) as { chunks: number };
    const served = (await (await api('/v1/documents/lamplighters/chunks?limit=40')).json()) as {
      chunks: { text: string; headingPath: string[] }[];
    };
    const chunks = page.locator('#chunk-list .chunk');
    await eventually(() => chunks.count()).toBe(20);
    expect(await page.textContent('#chunk-status')).toBe(
      `Chunks 1-20 of ${doc.chunks} (version 1), in order.`,
    );
    const first = chunks.first();
    expect(await first.locator('.chunk-position').textContent()).toBe('#1');
    expect(await first.locator('.chunk-where').textContent()).toBe('Lamplighters');
    expect(await first.locator('.chunk-offsets').textContent()).toMatch(/^characters \d+-[\d,]+$/);

    expect(await page.textContent('#chunk-more')).toBe(`Load more · 20 of ${doc.chunks} shown`);
    await page.click('#chunk-more');
    await eventually(() => chunks.count()).toBe(40);
    expect(await page.textContent('#chunk-status')).toBe(
      `Chunks 1-40 of ${doc.chunks} (version 1), in order.`,
    );
    // In order, each once, and the whole text of each as the API has it.
    expect(
      await chunks.evaluateAll((rows) => rows.map((r) => Number((r as HTMLElement).dataset.index))),
    ).toEqual([...Array(40).keys()]);
    expect(await page.locator('#chunk-list .chunk-text').allTextContents()).toEqual(
      served.chunks.map((chunk) => chunk.text),
    );
    await page.locator('#chunk-more').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${shots}/desktop-5-document-chunks.png` });
  });

  it('shows the new version of a document whose chunks are open when it is replaced', async () => {
    const ingestBuoys = async (content: string, version: number) => {
      const response = await api('/v1/documents', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content, documentId: 'buoys', wait: false }),
      });
      expect(response.status).toBe(202);
      await eventually(
        async () => ((await (await api('/v1/documents/buoys')).json()) as { version?: number }).version,
      ).toBe(version);
    };
    await ingestBuoys('# Buoys\n\nRed buoys mark the port side of the channel.\n', 1);
    // The page lists it once its job has completed.
    await page.click('#view-documents');
    if (await page.locator('#document-detail').isVisible()) await page.click('#document-back');
    await page.locator('#documents-list .doc[data-document-id="buoys"]').waitFor();
    await page.locator('#documents-list .doc[data-document-id="buoys"] button').click();
    await eventually(() => page.textContent('#chunk-status')).toBe('All 1 chunk of version 1, in order.');
    expect(await page.textContent('#chunk-list .chunk-text')).toMatch(/Red buoys mark the port side/);
    expect(await page.isVisible('#chunk-more')).toBe(false);

    await ingestBuoys('# Buoys\n\nGreen buoys mark the starboard side.\n', 2);
    await eventually(() => page.textContent('#chunk-status')).toBe('All 1 chunk of version 2, in order.');
    expect(await page.locator('#chunk-list .chunk').count()).toBe(1);
    expect(await page.textContent('#chunk-list .chunk-text')).toMatch(/Green buoys mark the starboard side/);
    expect(await page.textContent('#document-fields [data-field="version"]')).toBe('2');
  });

  it('says so when no passage contains the words searched for', async () => {
    await page.fill('#search-query', 'zqxvj wplkkt');
    await page.click('#search-submit');
    await eventually(() => page.textContent('#search-status')).toMatch(/No passage contains these words/);
    const results = page.locator('#search-results .result');
    // The vector signal still returns its nearest chunks: each is labelled, none shown as a match.
    expect(await results.count()).toBeGreaterThan(0);
    expect(await page.locator('#search-results .result .badge.weak').count()).toBe(await results.count());
    expect(await page.locator('#search-results .badge.weak').first().textContent()).toBe(
      'no exact term match',
    );
    expect(await page.locator('#search-results mark').count()).toBe(0);
  });

  it('lists documents and deletes one after confirmation', async () => {
    await page.click('#view-documents');
    if (await page.locator('#document-detail').isVisible()) await page.click('#document-back');
    const list = page.locator('#documents-list .doc');
    await eventually(() =>
      list.evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.documentId)),
    ).toEqual(expect.arrayContaining(['lamplighters', 'tides']));
    expect(await page.textContent('#documents-count')).toBe(`${await list.count()} shown`);
    await page.screenshot({ path: `${shots}/desktop-5-documents.png` });

    await page.locator('#documents-list .doc[data-document-id="tides"] button').click();
    // The list is refreshed when the page sees the replacement's job end, which may come later.
    await eventually(() => page.textContent('#document-fields [data-field="version"]')).toBe('2');
    await page.click('#document-delete');
    await page.locator('#confirm').waitFor();
    expect(await page.textContent('#confirm-title')).toBe('Delete tides?');
    await page.click('#confirm-ok');
    await page.locator('#documents-list .doc[data-document-id="tides"]').waitFor({ state: 'detached' });
    expect((await api('/v1/documents/tides')).status).toBe(404);
    expect(await page.locator('#documents-list .doc[data-document-id="lamplighters"]').count()).toBe(1);
  });

  it('filters jobs by state, keeps 30 and says how many it shows', async () => {
    // Two more jobs than the list keeps (the oldest two drop off; the cancelled one stays): the
    // count must still match the rows.
    await page.click('#view-jobs');
    const before = await page.locator('#jobs-list .job').count();
    const notes = 32 - before;
    for (let i = 0; i < notes; i++) {
      const response = await api('/v1/documents', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content: `Note ${i} about buoys.`, documentId: `note-${i}`, wait: false }),
      });
      expect(response.status).toBe(202);
    }
    const last = new RegExp(`^note-${notes - 1}$`);
    await eventually(() =>
      page.locator('.job[data-state="completed"] .job-title', { hasText: last }).count(),
    ).toBe(1);
    await eventually(() => page.locator('#jobs-list .job').count()).toBe(30);
    const all = await shownJobs();
    expect(all).toEqual({ visible: 30, stated: 30 });

    for (const [filter, states] of [
      ['completed', ['completed']],
      ['cancelled', ['cancelled']],
      ['failed', ['failed']],
      ['running', ['queued', 'active']],
    ] as const) {
      await page.click(`.filters [data-filter="${filter}"]`);
      const shown = await shownJobs();
      expect(shown.stated, filter).toBe(shown.visible);
      const visibleStates = await page
        .locator('#jobs-list .job:visible')
        .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.state));
      for (const state of visibleStates) expect(states).toContain(state);
      if (filter === 'completed') expect(shown.visible).toBeGreaterThan(20);
      if (filter === 'cancelled') expect(visibleStates).toEqual(['cancelled']);
    }
    await page.click('.filters [data-filter="cancelled"]');
    await page.screenshot({ path: `${shots}/desktop-6-jobs-cancelled.png` });
    await page.click('.filters [data-filter="all"]');
    await page.screenshot({ path: `${shots}/desktop-7-jobs.png` });
  });

  it('has AA contrast for every text in light and dark mode, in every view', async () => {
    await page.fill('#search-query', 'lamplighters wall');
    await page.click('#search-submit');
    // The results of this search, not the previous one's still on screen.
    await eventually(() => page.textContent('#search-status')).toMatch(/^5 results in \d+ ms$/);
    // Every passage here contains the words, whichever signal brought it: none is labelled weak.
    expect(await page.locator('#search-results .result').count()).toBe(5);
    expect(await page.locator('#search-results .badge.weak').count()).toBe(0);
    expect(await page.locator('#search-results .result:not(:has(mark))').count()).toBe(0);
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      for (const view of ['#view-jobs', '#view-documents'] as const) {
        await page.click(view);
        expect(await lowContrast(page), `${colorScheme} ${view}`).toEqual([]);
      }
      await page.locator('#documents-list .doc button').first().click();
      // With its chunks on screen.
      await page.locator('#chunk-list .chunk').first().waitFor();
      expect(await lowContrast(page), `${colorScheme} document`).toEqual([]);
      await page.click('#document-delete');
      await page.locator('#confirm').waitFor();
      expect(await lowContrast(page), `${colorScheme} confirm`).toEqual([]);
      await page.click('#confirm-cancel');
      await page.click('#document-back');
    }
    await page.screenshot({ path: `${shots}/desktop-8-dark.png` });
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('fits a phone: no sideways scrolling, long names wrap instead of hiding behind Cancel', async () => {
    await page.setViewportSize(PHONE);
    embeddings.delayMs = 200;
    const long = 'harbour-lamplighters-of-the-northern-coast-and-islands';
    await page.click('#tab-text');
    await page.fill('#ingest-text', `# Long\n\n${story('keepers', 200)}`);
    await page.fill('#ingest-id', long);
    await page.click('#ingest-submit');
    const job = row(long);
    await job.locator('.job-message', { hasText: 'embedding' }).waitFor();
    expect(await job.locator('.cancel').isVisible()).toBe(true);
    const title = job.locator('.job-title');
    // The whole name is on screen: nothing clipped, nothing under the Cancel button.
    const clipped = await title.evaluate((el) => el.scrollWidth - el.clientWidth);
    expect(clipped).toBeLessThanOrEqual(0);
    expect(await title.textContent()).toBe(long);
    const t = (await title.boundingBox())!;
    const c = (await job.locator('.cancel').boundingBox())!;
    const overlaps =
      t.x < c.x + c.width && c.x < t.x + t.width && t.y < c.y + c.height && c.y < t.y + t.height;
    expect(overlaps).toBe(false);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${shots}/phone-1-jobs-running.png` });
    expect(await job.isVisible()).toBe(true);
    await job.locator('.cancel').click();
    await page.locator('.job[data-state="cancelled"]', { hasText: long }).waitFor();
    embeddings.delayMs = 0;

    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      expect(await lowContrast(page), `phone ${colorScheme}`).toEqual([]);
    }
    await page.screenshot({ path: `${shots}/phone-6-dark.png` });
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('saves each view at phone width', async () => {
    await page.setViewportSize(PHONE);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${shots}/phone-2-search.png` });
    await page.click('#view-jobs');
    await page.screenshot({ path: `${shots}/phone-3-jobs.png`, fullPage: true });
    await page.click('#view-documents');
    await page.screenshot({ path: `${shots}/phone-4-documents.png`, fullPage: true });
    await page.locator('#documents-list .doc[data-document-id="lamplighters"] button').click();
    await page.locator('#document-detail').waitFor();
    // Its chunks, and Load more, at phone width.
    const chunks = page.locator('#chunk-list .chunk');
    await eventually(() => chunks.count()).toBeGreaterThanOrEqual(20);
    await page.evaluate(() => document.getElementById('document-detail')?.scrollIntoView());
    await page.screenshot({ path: `${shots}/phone-5-document.png` });
    const before = await chunks.count();
    await page.locator('#chunk-more').scrollIntoViewIfNeeded();
    const more = (await page.locator('#chunk-more').boundingBox())!;
    expect(more.x + more.width).toBeLessThanOrEqual(PHONE.width);
    await page.click('#chunk-more');
    await eventually(() => chunks.count()).toBe(before + 20);
    expect(await page.textContent('#chunk-status')).toMatch(new RegExp(`^Chunks 1-${before + 20} of \\d+`));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.locator('#chunk-more').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${shots}/phone-5-document-chunks.png` });
    // Search is still first on a phone with a full page below it.
    await page.reload();
    await page.locator('#connection[data-status="live"]').waitFor();
    const box = (await page.locator('#search-submit').boundingBox())!;
    expect(box.y + box.height).toBeLessThanOrEqual(PHONE.height);
    await page.setViewportSize(DESKTOP);
    await page.screenshot({ path: `${shots}/desktop-9-reloaded.png` });
  });
});
