// Compiles accumulate.wat into src/simd/accumulate-wasm.ts (the bytes, base64). A development tool
// (wabt is a dev dependency); run it after editing the .wat:
//   node libs/store/simd/build.ts
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import wabt from 'wabt';

const source = fileURLToPath(new URL('accumulate.wat', import.meta.url));
const target = fileURLToPath(new URL('../src/simd/accumulate-wasm.ts', import.meta.url));

/** The module's bytes, as wabt compiles the .wat (with SIMD). */
export async function compileAccumulate(): Promise<Uint8Array> {
  const toolkit = await wabt();
  const parsed = toolkit.parseWat('accumulate.wat', await readFile(source, 'utf8'), { simd: true });
  try {
    parsed.validate();
    return parsed.toBinary({}).buffer;
  } finally {
    parsed.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const bytes = await compileAccumulate();
  await writeFile(
    target,
    `// Generated from accumulate.wat by build.ts; do not edit.\n` +
      `export const ACCUMULATE_WASM =\n  '${Buffer.from(bytes).toString('base64')}';\n`,
  );
  console.log(`wrote ${target} (${bytes.length} bytes)`);
}
