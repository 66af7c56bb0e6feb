import type { Redis } from 'ioredis';

/**
 * Large job inputs and outputs live under their own keys, not in BullMQ job data: job data is copied
 * into events and job listings, and a 3 MB document there would slow every queue operation.
 * They expire on their own, so a job that never runs leaves nothing behind for long.
 */
export const PAYLOAD_TTL_SECONDS = 24 * 60 * 60;

export async function putPayload(redis: Redis, key: string, value: string | Buffer): Promise<void> {
  await redis.set(key, value, 'EX', PAYLOAD_TTL_SECONDS);
}

export async function getPayload(redis: Redis, key: string): Promise<Buffer | null> {
  return redis.getBuffer(key);
}

export async function deletePayload(redis: Redis, key: string): Promise<void> {
  await redis.del(key);
}

/** Packs vectors as float32 little-endian, `count * dimensions * 4` bytes: compact and exact. */
export function packVectors(vectors: readonly Float32Array[]): Buffer {
  const dimensions = vectors[0]?.length ?? 0;
  const out = Buffer.allocUnsafe(vectors.length * dimensions * 4);
  vectors.forEach((vector, i) => {
    if (vector.length !== dimensions) throw new RangeError('packVectors: vectors differ in length');
    for (let j = 0; j < dimensions; j++) out.writeFloatLE(vector[j] ?? 0, (i * dimensions + j) * 4);
  });
  return out;
}

export function unpackVectors(bytes: Buffer, count: number): number[][] {
  if (count === 0) return [];
  const dimensions = bytes.length / 4 / count;
  if (!Number.isInteger(dimensions)) throw new RangeError('unpackVectors: byte length does not match count');
  const vectors: number[][] = [];
  for (let i = 0; i < count; i++) {
    const vector = new Array<number>(dimensions);
    for (let j = 0; j < dimensions; j++) vector[j] = bytes.readFloatLE((i * dimensions + j) * 4);
    vectors.push(vector);
  }
  return vectors;
}

/** Texts for a queued embed job, as one JSON array (UTF-8). */
export function packTexts(texts: readonly string[]): string {
  return JSON.stringify(texts);
}

export function unpackTexts(bytes: Buffer): string[] {
  const parsed: unknown = JSON.parse(bytes.toString('utf8'));
  if (!Array.isArray(parsed) || !parsed.every((t) => typeof t === 'string')) {
    throw new TypeError('embed payload is not an array of strings');
  }
  return parsed;
}
