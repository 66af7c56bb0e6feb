import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replaceAll(' ', '-');
}

/** Lines outside fenced code blocks (a `# comment` in a shell block is no heading, a link in one no link). */
function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (line.startsWith('```')) fenced = !fenced;
    return !fenced && !line.startsWith('```');
  });
}

function anchors(path: string): Set<string> {
  const found = new Set<string>();
  for (const line of prose(readFileSync(join(root, path), 'utf8'))) {
    const heading = /^#{1,6} (.*)$/.exec(line);
    if (heading) found.add(slug(heading[1]!));
  }
  return found;
}

describe('the README and docs/', () => {
  it('link only to files and headings that exist, by relative paths', () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const line of prose(readFileSync(join(root, page), 'utf8'))) {
        for (const [, target] of line.matchAll(/\]\(([^)\s]+)\)/g)) {
          if (/^[a-z]+:/i.test(target!)) continue; // https:, mailto: …
          const [path, anchor] = target!.split('#') as [string, string | undefined];
          const file = path === '' ? join(root, page) : join(root, dirname(page), path);
          if (!relative(root, file) || relative(root, file).startsWith('..') || !existsSync(file)) {
            broken.push(`${page}: ${target} (no such file in the repository)`);
            continue;
          }
          if (
            anchor !== undefined &&
            !(statSync(file).isFile() && anchors(relative(root, file)).has(anchor))
          ) {
            broken.push(`${page}: ${target} (no such heading)`);
          }
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('keep "Not built yet" as the README\'s last section, and the test command CI runs', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const sections = prose(readme).filter((line) => line.startsWith('## '));
    expect(sections.at(-1)).toBe('## Not built yet');
    // .ci/run runs `npm test`, the command the README gives.
    expect(readFileSync(join(root, '.ci/run'), 'utf8')).toMatch(/^npm test\b/m);
    expect(readme).toMatch(/^npm test\s+#/m);
  });
});
