/**
 * A person using Tribune's HTTP API from a test: signs up through the real
 * routes like a browser does (GET /api/session for the CSRF token, cookies
 * kept in a jar), then holds both a session cookie and an API token.
 *
 * `call` uses the session cookie and CSRF header (the browser's way);
 * `bot` uses the API token (an integration's way).
 */
import { randomBytes } from 'node:crypto';

export interface ApiAnswer<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export class CookieJar {
  private readonly cookies = new Map<string, string>();

  take(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
}

export async function httpCall<T = unknown>(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; jar?: CookieJar } = {},
): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  if (options.jar) headers.cookie = options.jar.header();
  const response = await fetch(base + path, {
    method,
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
    signal: AbortSignal.timeout(30_000),
  });
  options.jar?.take(response.headers);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON (an .ics, say): the text
  }
  return { status: response.status, body: body as T, headers: response.headers };
}

export interface AccountView {
  id: string;
  username: string;
  displayName: string;
}

export class TestAccount {
  readonly jar = new CookieJar();
  csrf = '';
  apiToken = '';
  account!: AccountView;

  private constructor(readonly base: string) {}

  /** Signs up `username` (random when omitted) with the password "correct horse battery". */
  static async signUp(base: string, username?: string, displayName?: string): Promise<TestAccount> {
    const me = new TestAccount(base);
    const name = username ?? `u_${randomBytes(6).toString('hex')}`;
    const session = await httpCall<{ csrfToken: string }>(base, 'GET', '/api/session', { jar: me.jar });
    me.csrf = session.body.csrfToken;
    const created = await me.call<{ account: AccountView; csrfToken: string }>('POST', '/api/accounts', {
      username: name,
      password: 'correct horse battery',
      ...(displayName ? { displayName } : {}),
    });
    if (created.status !== 201) throw new Error(`sign-up failed: ${created.status} ${JSON.stringify(created.body)}`);
    me.account = created.body.account;
    me.csrf = created.body.csrfToken;
    const token = await me.call<{ token: string }>('POST', '/api/tokens', { name: 'tests' });
    if (token.status !== 201) throw new Error(`token failed: ${token.status} ${JSON.stringify(token.body)}`);
    me.apiToken = token.body.token;
    return me;
  }

  get id(): string {
    return this.account.id;
  }

  /** As a browser: session cookie, plus the CSRF header on unsafe methods. */
  call<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = method === 'GET' || method === 'HEAD' ? {} : { 'x-csrf-token': this.csrf };
    return httpCall<T>(this.base, method, path, { body, headers, jar: this.jar });
  }

  /** As a bot: the API token, no cookies. */
  bot<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
    return httpCall<T>(this.base, method, path, { body, headers: { authorization: `Bearer ${this.apiToken}` } });
  }

  /** A stage pass for a live Space this account has a seat on; throws otherwise. */
  async stagePass(spaceId: string): Promise<string> {
    const pass = await this.bot<{ token: string }>('POST', `/api/spaces/${spaceId}/stage-pass`, {});
    if (pass.status !== 200) throw new Error(`stage pass refused: ${pass.status} ${JSON.stringify(pass.body)}`);
    return pass.body.token;
  }
}
