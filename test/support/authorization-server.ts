import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';

/** How a test wants a token made; the defaults make a valid one. */
export interface TokenOptions {
  tenant?: string;
  /** Space-separated, as the `scope` claim carries it; `undefined` leaves the claim out. */
  scope?: string;
  audience?: string;
  issuer?: string;
  /** Seconds from now; negative for a token that has already expired, `null` for none. */
  expiresIn?: number | null;
  /** Signed by a key the server does not publish, under a published key id (a forged token). */
  forged?: boolean;
  /** The `kid` header; a key id the server does not publish. */
  kid?: string;
  /** Extra or replacement claims. */
  claims?: JWTPayload;
}

/** A client the token endpoint knows (client credentials grant). */
export interface RegisteredClient {
  secret: string;
  tenant: string;
  /** The scopes it may be given. */
  scopes: string[];
}

const KID = 'hopper-test-key-1';

/**
 * A stand-in for an OAuth 2.1 authorization server, the remote service that cannot run here. It
 * speaks the real wire formats: authorization server metadata (RFC 8414), a JWKS with the public
 * key, and a token endpoint for the client credentials grant (RFC 6749 section 4.4) with resource
 * indicators (RFC 8707). Tokens are RFC 9068-style JWTs signed with ES256; tests can also sign
 * tokens directly, including broken ones.
 */
export class AuthorizationServer {
  /** How often the JWKS was fetched (the gateway should cache it). */
  jwksRequests = 0;
  readonly clients = new Map<string, RegisteredClient>();
  readonly #server: Server;
  readonly #key: { privateKey: CryptoKey; publicKey: CryptoKey };
  readonly #stranger: { privateKey: CryptoKey; publicKey: CryptoKey };

  private constructor(
    key: { privateKey: CryptoKey; publicKey: CryptoKey },
    stranger: { privateKey: CryptoKey; publicKey: CryptoKey },
  ) {
    this.#key = key;
    this.#stranger = stranger;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        res.writeHead(500).end(String(error));
      });
    });
  }

  static async start(): Promise<AuthorizationServer> {
    const server = new AuthorizationServer(
      await generateKeyPair('ES256', { extractable: true }),
      await generateKeyPair('ES256'),
    );
    await new Promise<void>((resolve) => server.#server.listen(0, '127.0.0.1', resolve));
    return server;
  }

  get issuer(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Signs an access token for `audience` as this server would issue it, or broken as asked. */
  async token(audience: string, options: TokenOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims: JWTPayload = {
      ...(options.tenant === undefined ? {} : { hopper_tenant: options.tenant }),
      ...(options.scope === undefined ? {} : { scope: options.scope }),
      client_id: 'hopper-test',
      ...options.claims,
    };
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: options.kid ?? KID })
      .setIssuer(options.issuer ?? this.issuer)
      .setAudience(options.audience ?? audience)
      .setSubject('user-1')
      .setIssuedAt(now);
    if (options.expiresIn !== null) jwt.setExpirationTime(now + (options.expiresIn ?? 300));
    return jwt.sign(options.forged ? this.#stranger.privateKey : this.#key.privateKey);
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', this.issuer).pathname;
    if (path === '/.well-known/oauth-authorization-server') {
      return json(res, 200, {
        issuer: this.issuer,
        // Required by RFC 8414 (and the SDK); not served, as these tests use the client credentials grant.
        authorization_endpoint: `${this.issuer}/authorize`,
        token_endpoint: `${this.issuer}/token`,
        jwks_uri: `${this.issuer}/jwks`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        response_types_supported: ['code'],
        scopes_supported: ['read', 'write'],
      });
    }
    if (path === '/jwks') {
      this.jwksRequests += 1;
      const jwk = await exportJWK(this.#key.publicKey);
      return json(res, 200, { keys: [{ ...jwk, kid: KID, alg: 'ES256', use: 'sig' }] });
    }
    if (path === '/token' && req.method === 'POST') return this.#tokenEndpoint(req, res);
    json(res, 404, { error: 'not_found' });
  }

  /** The client credentials grant: the client gets the requested scopes it is allowed, for the resource it names. */
  async #tokenEndpoint(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += (chunk as Buffer).toString();
    const form = new URLSearchParams(body);
    const [basicId, basicSecret] = basicCredentials(req.headers.authorization);
    const clientId = basicId ?? form.get('client_id') ?? '';
    const client = this.clients.get(clientId);
    if (!client || client.secret !== (basicSecret ?? form.get('client_secret'))) {
      return json(res, 401, { error: 'invalid_client' });
    }
    if (form.get('grant_type') !== 'client_credentials')
      return json(res, 400, { error: 'unsupported_grant_type' });
    const resource = form.get('resource');
    if (!resource)
      return json(res, 400, { error: 'invalid_target', error_description: 'resource is required' });
    const requested = (form.get('scope') ?? client.scopes.join(' ')).split(' ').filter(Boolean);
    if (requested.some((scope) => !client.scopes.includes(scope)))
      return json(res, 400, { error: 'invalid_scope' });
    const scope = requested.join(' ');
    const accessToken = await this.token(resource, {
      tenant: client.tenant,
      scope,
      claims: { client_id: clientId },
    });
    json(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: 300, scope });
  }
}

function basicCredentials(header: string | undefined): [string?, string?] {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match?.[1]) return [];
  const [id, secret] = Buffer.from(match[1], 'base64').toString('utf8').split(':');
  return [decodeURIComponent(id ?? ''), decodeURIComponent(secret ?? '')];
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(JSON.stringify(body));
}
