/**
 * `npm run bench:profile -- FILE.cpuprofile [--top N]`: where a V8 CPU profile (from
 * `npm run bench -- --cpu-prof`, or any `node --cpu-prof`) spent its time, as plain text: self time
 * by package, then the functions with the most self time, then the most inclusive time (a function
 * and everything it called, counted once per stack). Shares are of all samples, idle included.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
const file = positionals[0];
if (file === undefined) {
  console.error('usage: npm run bench:profile -- FILE.cpuprofile [--top N]');
  process.exit(2);
}
const top = Number(values.top);
const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;

/** Where a frame's code lives: an npm package, a node: module, or a path inside this repository. */
function packageOf(url: string): string {
  if (url === '') return '(native)';
  const inModules = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules?.[1]) return inModules[1];
  if (url.startsWith('node:')) return url;
  return /(apps|libs)\/[^/]+\/src\/.*$/.exec(url)?.[0] ?? url;
}

const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
const label = (node: ProfileNode) =>
  `${node.callFrame.functionName || '(anonymous)'} ${packageOf(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;

const timeByNode = new Map<number, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0;
  timeByNode.set(id, (timeByNode.get(id) ?? 0) + delta);
  total += delta;
});

const selfByPackage = new Map<string, number>();
const selfByFunction = new Map<string, number>();
const inclusive = new Map<string, number>();
const add = (map: Map<string, number>, key: string, time: number) => map.set(key, (map.get(key) ?? 0) + time);
for (const [id, time] of timeByNode) {
  const node = nodes.get(id) as ProfileNode;
  add(selfByPackage, packageOf(node.callFrame.url), time);
  add(selfByFunction, label(node), time);
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
    const key = label(nodes.get(at) as ProfileNode);
    if (!seen.has(key)) add(inclusive, key, time);
    seen.add(key);
  }
}

const table = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [key, time] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * time) / total).toFixed(1).padStart(6)}%  ${key}`);
  }
};
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled`);
table('self time by package', selfByPackage);
table('self time by function', selfByFunction);
table('inclusive time', inclusive);
