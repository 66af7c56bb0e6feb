import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes a measurement's report as `<name>.md` (for people) and `<name>.json` (for comparing runs)
 * into `directory`, creating it; returns their paths, the Markdown first.
 */
export async function writeReportFiles(
  directory: string,
  name: string,
  markdown: string,
  json: unknown,
): Promise<[markdownPath: string, jsonPath: string]> {
  await mkdir(directory, { recursive: true });
  const paths: [string, string] = [join(directory, `${name}.md`), join(directory, `${name}.json`)];
  await writeFile(paths[0], markdown);
  await writeFile(paths[1], `${JSON.stringify(json, null, 2)}\n`);
  return paths;
}
