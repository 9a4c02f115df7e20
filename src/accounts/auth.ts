/**
 * Who is asking: a session cookie (browsers) or an API token (bots and
 * integrations, `Authorization: Bearer trb_…`). Listening needs neither.
 *
 * CSRF: every POST, PUT, PATCH and DELETE that would act on a session
 * cookie must carry the token from GET /api/session in `x-csrf-token`
 * (double-submit against a signed, HTTP-only secret cookie, by
 * @fastify/csrf-protection). Requests that carry an API token carry no
 * ambient authority and need none; the presence beacon reads no cookie.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import type { AccountStore, StoredAccount } from '../store/account-store.js';
import { isApiTokenShape } from '../store/account-store.js';
import type { AccountView } from '../wire/api.js';
import { TribuneError } from '../wire/errors.js';

export const SESSION_COOKIE = 'tribune_session';
/**
 * Readable by the page, and says only "this browser has a session": a page
 * without it knows it is anonymous and asks the origin nothing
 * (GET /api/session is the one request of a page load no edge can cache).
 * A launch crowd is mostly anonymous listeners.
 */
export const SIGNED_IN_HINT_COOKIE = 'tribune_signed_in';
export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;

export interface AuthOptions {
  secret: Uint8Array;
  /**
   * Mark cookies Secure wherever a browser keeps them: on HTTPS, and on
   * loopback names, which browsers treat as secure contexts. A plain-HTTP
   * request to any other name gets a cookie without the flag, because a
   * browser would drop a Secure one and nobody could sign in (a LAN test
   * deployment); production runs behind HTTPS, where it is always set.
   */
  secureCookies: boolean;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Routes that change nothing an account owns and read no cookie (by their routed path). */
const CSRF_EXEMPT = new Set(['/api/spaces/:id/presence']);

export class Auth {
  private readonly resolved = new WeakMap<FastifyRequest, Promise<StoredAccount | undefined>>();

  constructor(
    private readonly accounts: AccountStore,
    readonly options: AuthOptions,
  ) {}

  /** Registers cookies, CSRF and the CSRF check on unsafe API requests. */
  async register(app: FastifyInstance): Promise<void> {
    await app.register(fastifyCookie, { secret: Buffer.from(this.options.secret).toString('hex') });
    await app.register(fastifyCsrf, {
      sessionPlugin: '@fastify/cookie',
      cookieKey: 'tribune_csrf',
      cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true, signed: true },
      getToken: (request: FastifyRequest) => {
        const header = request.headers['x-csrf-token'];
        return typeof header === 'string' ? header : '';
      },
    });
    // Callback style on purpose: csrfProtection answers a refusal itself
    // (reply.send(error) reaches our error handler) and only calls `done`
    // when the token is good.
    app.addHook('onRequest', (request, reply, done) => {
      if (!needsCsrf(request)) return done();
      app.csrfProtection(request, reply, done);
    });
  }

  /** The account behind the request, or undefined for an anonymous listener. */
  account(request: FastifyRequest): Promise<StoredAccount | undefined> {
    let found = this.resolved.get(request);
    if (!found) {
      found = this.resolve(request);
      this.resolved.set(request, found);
    }
    return found;
  }

  /** Throws SIGN_IN_REQUIRED for anonymous requests. */
  async require(request: FastifyRequest): Promise<StoredAccount> {
    const account = await this.account(request);
    if (!account) throw new TribuneError('SIGN_IN_REQUIRED');
    return account;
  }

  /** Whether cookies on this request's answer get the Secure flag (see AuthOptions). */
  secureFor(request: FastifyRequest): boolean {
    if (!this.options.secureCookies) return false;
    return request.protocol === 'https' || LOOPBACK.test(request.hostname);
  }

  /** The CSRF token for the answer, setting its secret cookie when the browser has none. */
  csrfToken(reply: FastifyReply): string {
    return reply.generateCsrf({ secure: this.secureFor(reply.request) });
  }

  setSessionCookie(reply: FastifyReply, secret: string): void {
    void reply.setCookie(SESSION_COOKIE, secret, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: this.secureFor(reply.request),
      maxAge: SESSION_TTL_MS / 1000,
    });
    void reply.setCookie(SIGNED_IN_HINT_COOKIE, '1', { path: '/', httpOnly: false, sameSite: 'lax', secure: this.secureFor(reply.request), maxAge: SESSION_TTL_MS / 1000 });
  }

  clearSessionCookie(reply: FastifyReply): void {
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    void reply.clearCookie(SIGNED_IN_HINT_COOKIE, { path: '/' });
  }

  private async resolve(request: FastifyRequest): Promise<StoredAccount | undefined> {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer (\S{1,200})$/.exec(header);
      if (!match?.[1] || !isApiTokenShape(match[1])) throw new TribuneError('TOKEN_INVALID', 'Authorization must be "Bearer <API token>"');
      const account = await this.accounts.apiTokenAccount(match[1], Date.now());
      if (!account) throw new TribuneError('TOKEN_INVALID', 'unknown or revoked API token');
      return account;
    }
    const cookie = request.cookies[SESSION_COOKIE];
    if (!cookie || cookie.length > 200) return undefined;
    return this.accounts.sessionAccount(cookie, Date.now());
  }
}

export function accountView(account: StoredAccount): AccountView {
  return { id: account.id, username: account.username, displayName: account.displayName };
}

// Decided on the method and the matched route, never on the raw URL: the
// router decodes percent-escapes (`/%61pi/…` reaches `/api/…`), so a prefix
// test on request.url could be walked around.
function needsCsrf(request: FastifyRequest): boolean {
  if (!UNSAFE.has(request.method)) return false;
  if (request.headers.authorization !== undefined) return false;
  return !CSRF_EXEMPT.has(request.routeOptions.url ?? '');
}
