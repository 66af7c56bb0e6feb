import { createDeflateRaw, crc32 as zlibCrc32, deflateRawSync, deflateSync } from 'node:zlib';

// Hostile but small documents, generated rather than committed: each is under every documented
// size limit and was, before the parsers were made linear and sandboxed, enough to take a worker
// down (issue #20). Tests and `test/support/measure-parse.ts` share them so the figures in the
// README come from the same inputs the suite runs.

/** A hostile input: how it is sent (text or bytes) and what it pretends to be. */
export interface HostileDocument {
  name: string;
  mediaType: string;
  content: string | Uint8Array;
}

/** CSV of `rows` short rows (15,000 rows: ~320 KB). */
export function manyRowsCsv(rows: number): HostileDocument {
  const lines = ['id,name,value'];
  for (let i = 1; i <= rows; i++) lines.push(`${i},name ${i},${(i * 7919) % 100_000}`);
  return {
    name: `CSV ${rows.toLocaleString('en-US')} rows`,
    mediaType: 'text/csv',
    content: lines.join('\n'),
  };
}

/** A JSON array of `records` small objects (30,000 records: ~740 KB). */
export function manyRecordsJson(records: number): HostileDocument {
  const items: string[] = [];
  for (let i = 0; i < records; i++) items.push(`{"id":${i},"name":"n${i}"}`);
  return {
    name: `JSON ${records.toLocaleString('en-US')} records`,
    mediaType: 'application/json',
    content: `[${items.join(',')}]`,
  };
}

/** JSON Lines of `lines` small objects (100,000 lines: ~2.3 MB). */
export function manyLinesJsonl(lines: number): HostileDocument {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) out.push(`{"id":${i},"v":"x${i % 1000}"}`);
  return {
    name: `JSONL ${lines.toLocaleString('en-US')} lines`,
    mediaType: 'application/x-ndjson',
    content: out.join('\n'),
  };
}

/** Markdown of `headings` one-line headings without a body (200,000: ~2.4 MB). */
export function manyHeadingsMarkdown(headings: number): HostileDocument {
  const out: string[] = [];
  for (let i = 0; i < headings; i++) out.push(`# Head ${i}`);
  return {
    name: `Markdown ${headings.toLocaleString('en-US')} headings`,
    mediaType: 'text/markdown',
    content: out.join('\n'),
  };
}

/** JSON nested `depth` arrays deep. */
export function deepJson(depth: number): HostileDocument {
  return {
    name: `JSON nested ${depth.toLocaleString('en-US')} deep`,
    mediaType: 'application/json',
    content: `${'['.repeat(depth)}1${']'.repeat(depth)}`,
  };
}

const DOCX_TYPE = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

/**
 * A DOCX whose `word/document.xml` is `xmlBytes` of tiny paragraphs: highly compressible (10 MiB
 * zips to ~30 KB) and expensive for an XML-to-DOM converter.
 */
export function bigDocumentXmlDocx(xmlBytes: number): HostileDocument {
  const paragraph = '<w:p><w:r><w:t>lamp</w:t></w:r></w:p>';
  const head =
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>';
  const tail = '</w:body></w:document>';
  const xml =
    head +
    paragraph.repeat(Math.max(1, Math.floor((xmlBytes - head.length - tail.length) / paragraph.length))) +
    tail;
  return {
    name: `DOCX with ${Math.round(xmlBytes / 1024 / 1024)} MiB document.xml`,
    mediaType: DOCX_TYPE,
    content: zip([...docxParts(), { name: 'word/document.xml', data: Buffer.from(xml) }]),
  };
}

/**
 * A DOCX whose document.xml declares 1,000 bytes in the zip directory but inflates to
 * `inflatedBytes` (of XML whitespace inside the body): a checker that trusts declared sizes lets
 * it through. Deflated as a stream, so building a 1 GiB bomb needs no 1 GiB buffer.
 */
export async function lyingZipDocx(inflatedBytes: number): Promise<HostileDocument> {
  const head = Buffer.from(
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
      '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>' +
      '<w:p><w:r><w:t>lamp</w:t></w:r></w:p>',
  );
  const tail = Buffer.from('</w:body></w:document>');
  const filler = Buffer.alloc(1024 * 1024, 0x20);
  const deflate = createDeflateRaw({ level: 9 });
  const compressed: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => compressed.push(chunk));
  const done = new Promise((resolve, reject) => deflate.on('end', resolve).on('error', reject));
  let crc = 0;
  const write = async (data: Buffer): Promise<void> => {
    crc = zlibCrc32(data, crc);
    if (!deflate.write(data)) await new Promise((resolve) => deflate.once('drain', resolve));
  };
  await write(head);
  for (let left = inflatedBytes - head.length - tail.length; left > 0; left -= filler.length) {
    await write(left >= filler.length ? filler : filler.subarray(0, left));
  }
  await write(tail);
  deflate.end();
  await done;
  return {
    name: `DOCX zip declaring 1,000 bytes, inflating ${Math.round(inflatedBytes / 1024 / 1024)} MiB`,
    mediaType: DOCX_TYPE,
    content: zip([
      ...docxParts(),
      {
        name: 'word/document.xml',
        data: Buffer.alloc(0),
        compressed: Buffer.concat(compressed),
        crc,
        declaredSize: 1000,
      },
    ]),
  };
}

function docxParts(): ZipPart[] {
  return [
    {
      name: '[Content_Types].xml',
      data: Buffer.from(
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
          '<Default Extension="xml" ContentType="application/xml"/>' +
          '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
      ),
    },
    {
      name: '_rels/.rels',
      data: Buffer.from(
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
          '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
      ),
    },
  ];
}

interface ZipPart {
  name: string;
  data: Buffer;
  /** The uncompressed size written into the headers, when it should lie. */
  declaredSize?: number;
  /** Already deflated data (and its CRC), for parts too large to hold inflated. */
  compressed?: Buffer;
  crc?: number;
}

/** A minimal zip writer (deflate, no zip64): just enough to build DOCX files in tests. */
function zip(parts: readonly ZipPart[]): Uint8Array {
  const locals: Buffer[] = [];
  const directory: Buffer[] = [];
  let offset = 0;
  for (const part of parts) {
    const name = Buffer.from(part.name);
    const compressed = part.compressed ?? deflateRawSync(part.data, { level: 9 });
    const size = part.declaredSize ?? part.data.length;
    const crc = part.crc ?? zlibCrc32(part.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, compressed);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4);
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(8, 10);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(compressed.length, 20);
    entry.writeUInt32LE(size, 24);
    entry.writeUInt16LE(name.length, 28);
    entry.writeUInt32LE(offset, 42);
    directory.push(entry, name);
    offset += 30 + name.length + compressed.length;
  }
  const directorySize = directory.reduce((sum, b) => sum + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(parts.length, 8);
  end.writeUInt16LE(parts.length, 10);
  end.writeUInt32LE(directorySize, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, ...directory, end]));
}

/**
 * A PDF of ~2.5 KB whose page tree repeats one child `fanout` times on each of `levels` levels
 * (100 × 100 × 100: `/Count 1000000`), all leading to the same one page.
 */
export function pageTreeBombPdf(fanout = 100, levels = 3): HostileDocument {
  const objects: string[] = [];
  // 1: catalog, 2: root pages, 3..: one intermediate node per level, last: the page, then content.
  const pageId = 3 + levels - 1;
  const contentId = pageId + 1;
  const fontId = contentId + 1;
  objects[1] = '<< /Type /Catalog /Pages 2 0 R >>';
  for (let level = 0; level < levels; level++) {
    const id = level === 0 ? 2 : 2 + level;
    const child = level === levels - 1 ? pageId : 3 + level;
    const count = fanout ** (levels - level);
    const kids = Array.from({ length: fanout }, () => `${child} 0 R`).join(' ');
    const parent = level === 0 ? '' : ` /Parent ${level === 1 ? 2 : 1 + level} 0 R`;
    objects[id] = `<< /Type /Pages${parent} /Kids [${kids}] /Count ${count} >>`;
  }
  objects[pageId] =
    `<< /Type /Page /Parent ${levels === 1 ? 2 : 1 + levels} 0 R /MediaBox [0 0 612 792] ` +
    `/Contents ${contentId} 0 R /Resources << /Font << /F1 ${fontId} 0 R >> >> >>`;
  const stream = 'BT /F1 12 Tf 72 720 Td (The lamp is lit) Tj ET';
  objects[contentId] = `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`;
  objects[fontId] = '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>';
  return {
    name: `PDF page tree ${Array.from({ length: levels }, () => fanout).join('×')}`,
    mediaType: 'application/pdf',
    content: pdf(objects),
  };
}

/** A PDF of one page whose Flate content stream inflates to `operators` `Tj` text operators. */
export function flateBombPdf(operators: number): HostileDocument {
  const content = Buffer.from(`BT /F1 12 Tf 72 720 Td ${'(a) Tj '.repeat(operators)}ET`);
  // zlib-wrapped, as /FlateDecode expects.
  const compressed = deflateSync(content, { level: 9 });
  const objects: (string | Buffer)[] = [];
  objects[1] = '<< /Type /Catalog /Pages 2 0 R >>';
  objects[2] = '<< /Type /Pages /Kids [3 0 R] /Count 1 >>';
  objects[3] =
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>';
  objects[4] = Buffer.concat([
    Buffer.from(`<< /Length ${compressed.length} /Filter /FlateDecode >>\nstream\n`),
    compressed,
    Buffer.from('\nendstream'),
  ]);
  objects[5] = '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>';
  return {
    name: `PDF flate bomb ${(operators / 1e6).toLocaleString('en-US')}M Tj`,
    mediaType: 'application/pdf',
    content: pdf(objects),
  };
}

function pdf(objects: readonly (string | Buffer | undefined)[]): Uint8Array {
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n')];
  let length = parts[0]?.length ?? 0;
  const offsets: number[] = [];
  for (let id = 1; id < objects.length; id++) {
    const body = objects[id] ?? '';
    offsets[id] = length;
    const part = Buffer.concat([
      Buffer.from(`${id} 0 obj\n`),
      typeof body === 'string' ? Buffer.from(body) : body,
      Buffer.from('\nendobj\n'),
    ]);
    parts.push(part);
    length += part.length;
  }
  const xref = [`xref\n0 ${objects.length}\n`, '0000000000 65535 f \n'];
  for (let id = 1; id < objects.length; id++)
    xref.push(`${String(offsets[id] ?? 0).padStart(10, '0')} 00000 n \n`);
  parts.push(
    Buffer.from(
      `${xref.join('')}trailer\n<< /Size ${objects.length} /Root 1 0 R >>\nstartxref\n${length}\n%%EOF\n`,
    ),
  );
  return new Uint8Array(Buffer.concat(parts));
}

/** A row of issue #20's table: built on demand, since some are large once generated. */
export interface HostileRow {
  name: string;
  make(): HostileDocument | Promise<HostileDocument>;
}

/** Every worker-side row of issue #20, at the size the issue reports. */
export const ISSUE_ROWS: readonly HostileRow[] = [
  { name: 'CSV 15,000 rows', make: () => manyRowsCsv(15_000) },
  { name: 'JSON 30,000 records', make: () => manyRecordsJson(30_000) },
  { name: 'JSONL 100,000 lines', make: () => manyLinesJsonl(100_000) },
  { name: 'DOCX 10 MiB document.xml', make: () => bigDocumentXmlDocx(10 * 1024 * 1024) },
  { name: 'DOCX zip lying about sizes (1 GiB)', make: () => lyingZipDocx(1024 * 1024 * 1024) },
  { name: 'PDF page tree 100×100×100', make: () => pageTreeBombPdf() },
  { name: 'PDF flate bomb 20M Tj', make: () => flateBombPdf(20_000_000) },
  { name: 'Markdown 200,000 headings', make: () => manyHeadingsMarkdown(200_000) },
  { name: 'JSON nested 10,000 deep', make: () => deepJson(10_000) },
];
