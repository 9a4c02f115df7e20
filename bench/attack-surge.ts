/**
 * Attack 1: a join and sign-in surge at 20 times the legitimate arrival
 * rate, through the edge. Each arrival is one person from an address of its
 * own (127.1.x.y, as a real crowd has), on one keep-alive connection, doing
 * what the Space page does when it opens:
 *
 *   GET /s/<id>, /app.js, /styles.css        the page and its bundle (edge-cached 10 s)
 *   GET /api/spaces/<id>/feed                 the feed's first poll (edge-cached)
 *   POST /api/spaces/<id>/presence            the first presence beacon (counted at the origin)
 *   10 %: GET /api/session, POST /api/session sign in: the sign-in page's CSRF token, then
 *                                             an unknown username (the server verifies
 *                                             against a decoy hash, the same Argon2id work
 *                                             as a real sign-in)
 *    2 %: GET /api/session, POST /api/accounts  sign up (a new account: one Argon2id hash)
 *
 * An anonymous page asks nothing else: without the signed-in hint cookie it
 * does not fetch /api/session (src/web/account-session.ts), and the Space
 * page reads the Space from the feed.
 *
 * The shares of sign-ins and sign-ups are this harness's assumption for a
 * launch crowd (most people arrive signed in or anonymous: listening needs
 * no account).
 */
import type { Attack, AttackResult, AttackSetup } from './attack-types.js';
import { AttackConnection, Counts, answerKey, attackAddress, cookieHeader, cookiesOf, paced, randomToken, requestBytes, targetOf } from './attack-net.js';

const SURGE_FACTOR = 20;
const SIGN_IN_SHARE = 0.1;
const SIGN_UP_SHARE = 0.02;
const MAX_IN_FLIGHT = 3000;

interface Tallies {
  sent: number;
  answers: Counts;
  byStep: Map<string, Counts>;
  latencies: number[];
  open: Set<AttackConnection>;
}

async function arrive(setup: AttackSetup, index: number, t: Tallies): Promise<void> {
  const target = targetOf(setup.edgeUrl, attackAddress(1, index));
  const host = `${target.host}:${target.port}`;
  const connection = new AttackConnection(target);
  t.open.add(connection);
  const id = setup.spaceId;
  const jar = new Map<string, string>();
  const step = async (name: string, method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
    t.sent++;
    const started = performance.now();
    const cookie = cookieHeader(jar);
    const answer = await connection.request(requestBytes(method, path, host, cookie ? { ...headers, Cookie: cookie } : headers, body), 15_000);
    t.latencies.push(performance.now() - started);
    cookiesOf(answer.head, jar);
    const key = answerKey(answer);
    t.answers.add(key);
    let counts = t.byStep.get(name);
    if (!counts) t.byStep.set(name, (counts = new Counts()));
    counts.add(key);
    return answer;
  };
  try {
    await step('page', 'GET', `/s/${id}`);
    await step('bundle', 'GET', '/app.js');
    await step('styles', 'GET', '/styles.css');
    await step('feed', 'GET', `/api/spaces/${id}/feed`);
    await step('beacon', 'POST', `/api/spaces/${id}/presence`, { 'content-type': 'application/json' }, JSON.stringify({ listener: `surge${index.toString(36)}${randomToken(12)}` }));
    const roll = Math.random();
    if (roll >= SIGN_IN_SHARE + SIGN_UP_SHARE) return;
    const session = await step('session', 'GET', '/api/session');
    let csrf = '';
    try {
      csrf = (JSON.parse(session.body.toString('utf8')) as { csrfToken?: string }).csrfToken ?? '';
    } catch {
      // a refusal (503, 429): no token, and the page would not sign in now either
    }
    if (csrf && roll < SIGN_IN_SHARE) {
      await step('sign-in', 'POST', '/api/session', { 'x-csrf-token': csrf }, JSON.stringify({ username: `nobody_${randomToken(12)}`, password: 'correct horse battery' }));
    } else if (csrf) {
      await step('sign-up', 'POST', '/api/accounts', { 'x-csrf-token': csrf }, JSON.stringify({ username: `s${randomToken(14)}`, password: 'correct horse battery' }));
    }
  } finally {
    connection.close();
    t.open.delete(connection);
  }
}

export const surgeAttack: Attack = {
  name: 'join-surge',
  number: 1,
  async run(setup, untilMs): Promise<AttackResult> {
    const rate = SURGE_FACTOR * setup.legitArrivalsPerS;
    const t: Tallies = { sent: 0, answers: new Counts(), byStep: new Map(), latencies: [], open: new Set() };
    const { launched, skipped } = await paced(
      rate,
      untilMs,
      MAX_IN_FLIGHT,
      (index) => arrive(setup, index, t),
      () => {
        for (const connection of t.open) connection.close();
      },
    );
    const latencies = t.latencies.sort((a, b) => a - b);
    const at = (p: number): number => Math.round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN);
    return {
      sent: t.sent,
      answers: t.answers.sorted(),
      details: {
        unit: 'HTTP requests through the edge',
        arrivals_per_s: rate,
        legit_arrivals_per_s: setup.legitArrivalsPerS,
        arrivals: launched,
        arrivals_skipped_in_flight_cap: skipped,
        addresses: Math.min(launched, 65_534),
        answers_by_step: Object.fromEntries([...t.byStep].map(([name, counts]) => [name, counts.sorted(8)])),
        request_ms: { p50: at(50), p99: at(99), max: Math.round(latencies.at(-1) ?? NaN) },
      },
    };
  },
};
