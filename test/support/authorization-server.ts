import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWTPayload } from 'jose';

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
 * How the introspection endpoint misbehaves, to test the gateway's side of an outage: `drop` closes
 * the connection unanswered (as an unreachable server looks to the client), `hang` answers nothing
 * for 10 s, `error` answers 500, `html` answers 200 with a page that is not JSON.
 */
export type IntrospectionFault = 'drop' | 'hang' | 'error' | 'html';

/**
 * A stand-in for an OAuth 2.1 authorization server, the remote service that cannot run here. It
 * speaks the real wire formats: authorization server metadata (RFC 8414), a JWKS with the public
 * key, a token endpoint for the client credentials grant (RFC 6749 section 4.4) with resource
 * indicators (RFC 8707), and token introspection (RFC 7662) for registered resource servers. Tokens
 * are RFC 9068-style JWTs signed with ES256, or opaque random strings the server keeps a record of;
 * tests can also sign tokens directly, including broken ones, and revoke tokens.
 */
export class AuthorizationServer {
  /** How often the JWKS was fetched (the gateway should cache it). */
  jwksRequests = 0;
  /** How many introspection requests were answered or failed, whoever sent them. */
  introspectionRequests = 0;
  /** Set: the introspection endpoint fails this way (the rest of the server keeps working). */
  introspectionFault: IntrospectionFault | undefined;
  readonly clients = new Map<string, RegisteredClient>();
  /** Resource servers allowed to introspect tokens (client id → secret), authenticated with HTTP Basic. */
  readonly resourceServers = new Map<string, string>();
  /** Introspection requests per token (by SHA-256), so a test counts its own token's. */
  readonly #introspected = new Map<string, number>();
  /** Opaque tokens issued, with the claims their introspection reports. */
  readonly #opaque = new Map<string, JWTPayload>();
  readonly #revoked = new Set<string>();
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

  /**
   * Issues an opaque access token (random, no dots, nothing readable in it) for `audience`; the
   * server keeps its claims and reports them when the token is introspected.
   */
  opaqueToken(audience: string, options: Omit<TokenOptions, 'forged' | 'kid'> = {}): string {
    const now = Math.floor(Date.now() / 1000);
    const token = `hopper_at_${randomBytes(24).toString('base64url')}`;
    this.#opaque.set(token, {
      ...(options.tenant === undefined ? {} : { hopper_tenant: options.tenant }),
      ...(options.scope === undefined ? {} : { scope: options.scope }),
      client_id: 'hopper-test',
      iss: options.issuer ?? this.issuer,
      aud: options.audience ?? audience,
      sub: 'user-1',
      iat: now,
      ...(options.expiresIn === null ? {} : { exp: now + (options.expiresIn ?? 300) }),
      ...options.claims,
    });
    return token;
  }

  /** Revokes a token (RFC 7009's effect): from now on its introspection answers `active: false`. */
  revoke(token: string): void {
    this.#revoked.add(token);
  }

  /** How many times a token was introspected. */
  introspectionsOf(token: string): number {
    return this.#introspected.get(sha256(token)) ?? 0;
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
        introspection_endpoint: `${this.issuer}/introspect`,
        introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
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
    if (path === '/introspect' && req.method === 'POST') return this.#introspectionEndpoint(req, res);
    json(res, 404, { error: 'not_found' });
  }

  /**
   * RFC 7662: a registered resource server, authenticated with HTTP Basic, posts `token` (form
   * encoded) and learns whether it is active and, if so, what it grants. An inactive token (unknown,
   * expired, revoked, or a JWT not signed by this server) is `{"active": false}` and nothing more.
   */
  async #introspectionEndpoint(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.introspectionRequests += 1;
    const form = new URLSearchParams(await readBody(req));
    const fault = this.introspectionFault;
    if (fault === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault === 'hang') {
      await new Promise((resolve) => setTimeout(resolve, 10_000).unref());
      if (!res.destroyed) json(res, 200, { active: false });
      return;
    }
    if (fault === 'error') return json(res, 500, { error: 'server_error' });
    if (fault === 'html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Maintenance</body></html>');
      return;
    }
    const [id, secret] = basicCredentials(req.headers.authorization);
    if (id === undefined || this.resourceServers.get(id) !== secret) {
      res.setHeader('www-authenticate', 'Basic realm="introspection"');
      return json(res, 401, { error: 'invalid_client' });
    }
    if (!req.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) {
      return json(res, 400, { error: 'invalid_request', error_description: 'a form is expected' });
    }
    const token = form.get('token');
    if (!token) return json(res, 400, { error: 'invalid_request', error_description: 'token is required' });
    const key = sha256(token);
    this.#introspected.set(key, (this.#introspected.get(key) ?? 0) + 1);
    const claims = this.#revoked.has(token) ? undefined : await this.#claimsOf(token);
    if (!claims || (typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now())) {
      return json(res, 200, { active: false });
    }
    json(res, 200, { active: true, token_type: 'Bearer', ...claims });
  }

  /** What this server knows of a token it issued: the record of an opaque one, the claims of a JWT it signed. */
  async #claimsOf(token: string): Promise<JWTPayload | undefined> {
    const opaque = this.#opaque.get(token);
    if (opaque) return opaque;
    try {
      const { payload } = await jwtVerify(token, this.#key.publicKey, { issuer: this.issuer });
      return payload;
    } catch {
      return undefined;
    }
  }

  /** The client credentials grant: the client gets the requested scopes it is allowed, for the resource it names. */
  async #tokenEndpoint(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
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

/** HTTP Basic client credentials, each form-urlencoded before encoding (RFC 6749 section 2.3.1). */
function basicCredentials(header: string | undefined): [string?, string?] {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match?.[1]) return [];
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return [];
  const formDecoded = (value: string) => decodeURIComponent(value.replaceAll('+', ' '));
  return [formDecoded(decoded.slice(0, colon)), formDecoded(decoded.slice(colon + 1))];
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += (chunk as Buffer).toString();
  return body;
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(JSON.stringify(body));
}
