import type { IncomingMessage, ServerResponse } from 'node:http';
import { scopes } from '@hopper/contracts';
import type { OAuthSettings } from './auth-config.ts';

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

/** Hopper as an OAuth protected resource (RFC 9728), as MCP clients discover its authorization server. */
export interface ProtectedResource {
  /** The metadata document's public URL, for the `resource_metadata` of every challenge. */
  readonly metadataUrl: string;
  /** Whether a request path is one the metadata document is served at. */
  serves(path: string): boolean;
  /** Answers a request for the metadata document. */
  handle(req: IncomingMessage, res: ServerResponse): void;
}

/**
 * The metadata is served at the root well-known path and at the path-suffixed form for the
 * resource's path (`/.well-known/oauth-protected-resource/mcp`), which MCP clients try first. Its
 * public URL is derived from the configured resource URL, not from the request: behind a proxy the
 * gateway cannot know the scheme and host clients use.
 */
export function protectedResource(settings: OAuthSettings): ProtectedResource {
  const resource = new URL(settings.resource);
  const resourcePath = resource.pathname.replace(/\/$/, '');
  const paths = new Set([WELL_KNOWN, `${WELL_KNOWN}/mcp`, `${WELL_KNOWN}${resourcePath}`]);
  const body = JSON.stringify({
    resource: settings.resource,
    authorization_servers: [settings.issuer],
    scopes_supported: scopes,
    bearer_methods_supported: ['header'],
    resource_name: 'Hopper',
  });

  return {
    metadataUrl: `${resource.origin}${WELL_KNOWN}${resourcePath}`,
    serves: (path) => paths.has(path.replace(/\/$/, '')),
    handle(req, res) {
      // Public, static metadata: any origin may read it (browser-based MCP clients do).
      const cors = { 'access-control-allow-origin': '*' };
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET, HEAD, OPTIONS' }).end();
      } else if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { ...cors, allow: 'GET, HEAD, OPTIONS' }).end();
      } else {
        res.writeHead(200, {
          ...cors,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'cache-control': 'public, max-age=300',
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      }
    },
  };
}
