import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import type { Logger } from '@hopper/lifecycle';

export type PageHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
};

/** Same-origin only: the page talks to this gateway (REST and its WebSocket) and nothing else. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Paths the page handler answers: the page itself and its assets. */
export function isPagePath(path: string): boolean {
  return path === '/' || path === '/index.html' || path.startsWith('/assets/');
}

/**
 * Serves the progress page (apps/web, built by esbuild into `dir`). If the bundle is missing the
 * page says how to build it instead of failing obscurely; `npm start` and `npm test` build it.
 */
export function createPageHandler(options: { dir: string; logger: Logger }): PageHandler {
  const root = normalize(options.dir + sep);
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent((req.url ?? '/').split('?', 1)[0] ?? '/');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const relative = path === '/' ? 'index.html' : path.slice(1);
    const file = normalize(join(root, relative));
    if (!file.startsWith(root)) {
      res.writeHead(404).end();
      return;
    }
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      if (relative === 'index.html') return notBuilt(res, options.logger);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': body.length,
      // The bundle's names are fixed, so revalidate; it is small and served from loopback.
      'cache-control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

function notBuilt(res: ServerResponse, logger: Logger): void {
  logger.warn('the progress page is not built; run `npm run build:web`');
  const text =
    '<!doctype html><meta charset="utf-8"><title>Hopper</title><p>The progress page has not been built. ' +
    'Run <code>npm run build:web</code> (<code>npm start</code> and <code>npm test</code> do it for you), then reload.</p>';
  res.writeHead(503, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' }).end(text);
}
