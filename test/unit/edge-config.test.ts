/**
 * The nginx edge's configuration (src/edge/nginx-edge-config.ts) and the
 * production file rendered from it (deploy/nginx/tribune-edge.conf,
 * `npm run edge-config`): nginx accepts it, its cache keys hold only the
 * LL-HLS directives and the feed version, its holds outlast the origin's,
 * and the committed file is what the renderer makes today. `npm test`
 * installs nginx (scripts/test.sh), so nothing here is skipped.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { DEPLOY_CONF, SECRET_PLACEHOLDER, renderDeployConfig } from '../../scripts/edge-config.js';
import { freePort } from '../../src/tools/free-port.js';
import { EDGE_API_ROUTES, EDGE_HOLD_S, renderNginxEdgeConfig, type EdgeConfigOptions } from '../../src/edge/nginx-edge-config.js';
import { NGINX, NJS_DIR, startNginxEdge, type RunningEdge } from '../../src/edge/nginx-process.js';
import { PublicIds } from '../../src/store/public-ids.js';
import { stagePassKeys } from '../../src/control/stage-tokens.js';

const ROOT = new URL('../../', import.meta.url).pathname;
/** The origin's longest holds: a blocking playlist or part (3 target durations), the feed. */
const ORIGIN_PLAYLIST_HOLD_S = 12;
const ORIGIN_FEED_HOLD_S = 20;
const ID_KEY = '0123456789abcdef0123456789abcdef';
const PASS_KEY = stagePassKeys(Buffer.from('00112233445566778899aabbccddeeff', 'hex')).point;
const SPACE = new PublicIds(Buffer.from(ID_KEY, 'hex')).mint();
/** Shaped like a Space id, with a tag the key did not make. */
const MADE_UP = `${SPACE.slice(0, 10)}${SPACE.slice(10) === 'aaaa' ? 'bbbb' : 'aaaa'}`;

/** The environment without the inputs of the production render, which the committed file is made without. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.TRIBUNE_ORIGIN;
  delete env.TRIBUNE_STANDBY_ORIGIN;
  delete env.TRIBUNE_EDGE_SECRET;
  delete env.TRIBUNE_ID_KEY;
  delete env.TRIBUNE_STAGE_PASS_KEY;
  return env;
}

function testOptions(prefix: string, port: number): EdgeConfigOptions {
  return {
    listen: `127.0.0.1:${port}`,
    origin: '127.0.0.1:9',
    standbyOrigin: '127.0.0.1:10',
    edgeSecret: 'test-secret_0123456789',
    idKey: ID_KEY,
    stagePassKey: PASS_KEY,
    njsDir: NJS_DIR,
    prefix,
    cacheDir: join(prefix, 'cache'),
    accessLog: join(prefix, 'access.log'),
    unlimited: ['127.0.0.1/32'],
    user: process.getuid?.() === 0 ? 'root' : undefined,
    workerProcesses: 1,
  };
}

/** The `location` blocks that cache for clients, with their bodies (not the gate's own state reads). */
function cachedLocations(config: string): string[] {
  return [...config.matchAll(/^ {4}location .*\{\n[\s\S]*?\n {4}\}$/gm)]
    .map((m) => m[0])
    .filter((block) => /proxy_cache tribune;/.test(block) && !/internal;/.test(block));
}

/** Those for listener objects: parts, segments and init; playlists; the feed. */
function listenerLocations(config: string): string[] {
  return cachedLocations(config).filter((block) => /^ {4}location [^\n]*(\/hls\/|\/feed\$)/.test(block));
}

function seconds(block: string, directive: string): number {
  const match = new RegExp(`${directive} (\\d+)s;`).exec(block);
  assert.ok(match, `${directive} is set in\n${block.split('\n')[0]}`);
  return Number(match[1]);
}

describe('the rendered edge config', () => {
  let prefix: string;
  let config: string;

  before(async () => {
    prefix = mkdtempSync(join(tmpdir(), 'tribune-edge-test-'));
    mkdirSync(join(prefix, 'cache'));
    config = renderNginxEdgeConfig(testOptions(prefix, await freePort()));
    writeFileSync(join(prefix, 'nginx.conf'), config);
  });
  after(() => rmSync(prefix, { recursive: true, force: true }));

  test('nginx -t accepts it', () => {
    execFileSync(NGINX, ['-t', '-q', '-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  });

  test('cache keys and the requests to the origin carry only _HLS_msn, _HLS_part, _HLS_skip and v', () => {
    const keys = cachedLocations(config).map((block) => /proxy_cache_key ([^;]+);/.exec(block)?.[1]);
    assert.deepEqual(new Set(keys), new Set(['$uri', '$uri?$tribune_q_msn$tribune_q_part$tribune_q_skip', '$uri?$tribune_q_v']));
    // The gate's reads of the live state are keyed by Space alone.
    const stateKeys = [...config.matchAll(/proxy_cache_key "(state:[^"]+)";/g)].map((m) => m[1]);
    assert.deepEqual(stateKeys, ['state:live:$tribune_sid', 'state:feed:$tribune_sid', 'state:feed-fresh:$tribune_sid', 'state:replay:$tribune_sid']);
    // The query variables those keys use are made from exactly these arguments.
    const queryMaps = new Map([...config.matchAll(/map \$arg_(\w+) \$(tribune_q_\w+) \{ "" ""; default "&?(\w+)=\$arg_\w+"; \}/g)].map((m) => [m[2], [m[1], m[3]]]));
    assert.deepEqual(Object.fromEntries(queryMaps), {
      tribune_q_msn: ['_HLS_msn', '_HLS_msn'],
      tribune_q_part: ['_HLS_part', '_HLS_part'],
      tribune_q_skip: ['_HLS_skip', '_HLS_skip'],
      tribune_q_v: ['v', 'v'],
    });
    // No argument other than those is read anywhere, and the raw query never travels.
    const argsRead = new Set([...config.matchAll(/\$arg_(\w+)/g)].map((m) => m[1]));
    assert.deepEqual(argsRead, new Set(['_HLS_msn', '_HLS_part', '_HLS_skip', 'v']));
    for (const block of cachedLocations(config)) {
      assert.doesNotMatch(block, /\$args|\$query_string|\$request_uri|\$is_args/);
      const key = /proxy_cache_key ([^;]+);/.exec(block)?.[1];
      const pass = /proxy_pass http:\/\/tribune_(?:origin|gate)([^;]*);/.exec(block)?.[1];
      assert.equal(pass, key, 'the origin (or the gate in front of it) is asked for exactly what the key names');
    }
    assert.equal(listenerLocations(config).length, 3, 'media objects, playlists, the feed');
    for (const block of listenerLocations(config)) assert.match(block, /proxy_pass http:\/\/tribune_gate/, 'listener misses go through the gate');
    assert.equal(cachedLocations(config).length, 6, 'replay and clip media, the web client, and the pages of Spaces and clips');
    const replays = cachedLocations(config).find((block) => block.includes('replay/'));
    assert.ok(replays, 'replay and clip media are cached');
    assert.match(replays, /proxy_cache_key \$uri;/, 'by path alone: query strings never reach the origin');
  });

  test(`lock and read timeouts outlast the origin's holds (${ORIGIN_PLAYLIST_HOLD_S} s playlists and parts, ${ORIGIN_FEED_HOLD_S} s feed)`, () => {
    assert.ok(EDGE_HOLD_S > ORIGIN_FEED_HOLD_S);
    assert.equal(listenerLocations(config).length, 3);
    for (const block of listenerLocations(config)) {
      assert.match(block, /proxy_cache_lock on;/);
      for (const directive of ['proxy_cache_lock_timeout', 'proxy_cache_lock_age', 'proxy_read_timeout']) {
        const value = seconds(block, directive);
        assert.ok(value > ORIGIN_PLAYLIST_HOLD_S && value > ORIGIN_FEED_HOLD_S, `${directive} ${value}s`);
      }
    }
  });

  test('stale answers on origin errors, a standby origin, per-IP limits, the edge secret', () => {
    for (const block of cachedLocations(config)) assert.match(block, /proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;/);
    assert.match(config, /proxy_next_upstream error timeout http_502 http_504;/, 'a 503 the origin means is not a reason to fail over');
    assert.match(config, /server 127\.0\.0\.1:10 backup;/);
    assert.match(config, /limit_conn tribune_conn \d+;/);
    assert.match(config, /limit_req_zone \$tribune_limit_key zone=tribune_reads:\d+m rate=\d+r\/s;/);
    assert.equal(
      [...config.matchAll(/proxy_set_header x-tribune-edge "test-secret_0123456789";/g)].length,
      7,
      'both servers, the WebSocket location and the four state reads',
    );
  });

  test('values that would break the file are refused', () => {
    const base = testOptions(prefix, 1);
    assert.throws(() => renderNginxEdgeConfig({ ...base, edgeSecret: 'a$b' }), /edgeSecret/);
    assert.throws(() => renderNginxEdgeConfig({ ...base, edgeSecret: 'a"; evil' }), /edgeSecret/);
    assert.throws(() => renderNginxEdgeConfig({ ...base, origin: '10.0.0.1:80; server evil' }), /origin/);
    assert.throws(() => renderNginxEdgeConfig({ ...base, cacheDir: '/tmp/a b' }), /cacheDir/);
    assert.throws(() => renderNginxEdgeConfig({ ...base, idKey: 'abc"; evil' }), /idKey/);
    assert.throws(() => renderNginxEdgeConfig({ ...base, idKey: '00' }), /idKey/, 'too short to be a key');
  });

  test('the API routes the edge passes are the origin\'s (docs/openapi.json), no more and no fewer', () => {
    const openapi = JSON.parse(readFileSync(join(ROOT, 'docs/openapi.json'), 'utf8')) as { paths: Record<string, unknown> };
    const origin = Object.keys(openapi.paths).filter((path) => path.startsWith('/api/') && !/\/(feed|stage)$/.test(path));
    assert.deepEqual([...EDGE_API_ROUTES].sort(), origin.sort());
  });
});

describe('the edge in front of a stub origin', () => {
  let stub: Server;
  let edge: RunningEdge;
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];

  before(async () => {
    stub = createServer((request, response) => {
      seen.push({ url: request.url ?? '', headers: request.headers });
      const url = request.url ?? '';
      if (url === '/app.js' || url === '/healthz') {
        // As @fastify/static answers: browsers revalidate every time.
        response.writeHead(200, { 'content-type': 'application/javascript', 'cache-control': 'public, max-age=0', etag: 'W/"1"' });
        response.end('//');
        return;
      }
      const playlist = url.includes('.m3u8');
      response.writeHead(200, { 'content-type': playlist ? 'application/vnd.apple.mpegurl' : 'application/json', 'cache-control': 'public, max-age=1' });
      response.end(playlist ? '#EXTM3U\n' : '{}');
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    const address = stub.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    edge = await startNginxEdge({ port: await freePort(), origin: `127.0.0.1:${port}`, edgeSecret: 'stub-secret', idKey: ID_KEY, stagePassKey: PASS_KEY, unlimited: ['127.0.0.1/32'] });
  });
  after(async () => {
    await edge?.stop();
    await new Promise((resolve) => stub?.close(resolve));
  });

  test('junk query parameters are dropped before the cache and the origin; the secret goes along', async () => {
    seen.length = 0;
    const urls = [
      `/hls/${SPACE}/live.m3u8?_HLS_msn=5&_HLS_part=2&utm=x`,
      `/hls/${SPACE}/live.m3u8?cb=1&_HLS_part=2&_HLS_msn=5`,
      `/hls/${SPACE}/live.m3u8?_HLS_msn=5&_HLS_part=2&_HLS_foo=1&x=%00`,
      `/api/spaces/${SPACE}/feed?v=17&junk=1`,
      `/api/spaces/${SPACE}/feed?junk=2&v=17`,
      `/api/spaces/${SPACE}/feed`,
      `/api/spaces/${SPACE}/feed?junk=3`,
      `/hls/${SPACE}/live.m3u8?_HLS_skip=YES&junk=4`,
    ];
    const statuses = [];
    for (const url of urls) statuses.push((await fetch(edge.url + url)).status);
    assert.deepEqual(statuses, urls.map(() => 200));
    // The client's requests carry its address; the gate's own reads of the live state do not.
    const forClients = seen.filter((s) => s.headers['x-forwarded-for'] !== undefined);
    assert.deepEqual(
      forClients.map((s) => s.url),
      [`/hls/${SPACE}/live.m3u8?_HLS_msn=5&_HLS_part=2`, `/api/spaces/${SPACE}/feed?v=17`, `/api/spaces/${SPACE}/feed?`, `/hls/${SPACE}/live.m3u8?&_HLS_skip=YES`],
      'one origin request per object',
    );
    // The stub's playlist lists no part and its feed no version, so the gate asked the origin.
    assert.deepEqual(
      seen.filter((s) => s.headers['x-forwarded-for'] === undefined).map((s) => s.url),
      [`/hls/${SPACE}/live.m3u8`, `/api/spaces/${SPACE}/feed`],
      'the live playlist and the feed, each once',
    );
    for (const s of seen) assert.equal(s.headers['x-tribune-edge'], 'stub-secret');
  });

  test('the web client is kept at the edge for a launch wave; other paths are not', async () => {
    seen.length = 0;
    const answers = await Promise.all(['/app.js?v=1', '/app.js', '/app.js', '/healthz', '/healthz'].map((url) => fetch(edge.url + url)));
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
    assert.equal(answers[0]?.headers.get('cache-control'), 'public, max-age=0', 'browsers still revalidate');
    assert.deepEqual(seen.map((s) => s.url).sort(), ['/app.js', '/healthz', '/healthz']);
  });

  test('malformed directives are answered at the edge, uncached, and never reach the origin', async () => {
    seen.length = 0;
    for (const query of ['_HLS_msn=abc', '_HLS_msn=5&_HLS_part=-1', '_HLS_msn=5&_HLS_skip=NO', '_HLS_msn=1234567890']) {
      const answer = await fetch(`${edge.url}/hls/${SPACE}/live.m3u8?${query}`);
      assert.equal(answer.status, 400, query);
      assert.equal(answer.headers.get('cache-control'), 'no-store');
      assert.equal(answer.headers.get('access-control-allow-origin'), '*', 'players on other sites read the error too');
      assert.equal(((await answer.json()) as { error: { code: string } }).error.code, 'HLS_QUERY_INVALID');
    }
    const feed = await fetch(`${edge.url}/api/spaces/${SPACE}/feed?v=x1`);
    assert.equal(feed.status, 400);
    assert.equal(((await feed.json()) as { error: { code: string } }).error.code, 'VALIDATION_FAILED');
    assert.equal((await fetch(`${edge.url}/hls/${SPACE}/other.txt`)).status, 404);
    assert.deepEqual(seen, []);
  });

  test('made-up ids, paths that are no route, and API paths that are no route stop at the edge', async () => {
    seen.length = 0;
    const code = async (path: string, init?: RequestInit) => {
      const answer = await fetch(edge.url + path, init);
      const type = answer.headers.get('content-type') ?? '';
      const body = type.includes('json') ? ((await answer.json()) as { error?: { code: string } }).error?.code : (await answer.text()).includes('No such') ? 'page' : 'other';
      return `${answer.status} ${body}`;
    };
    const post = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' };
    const answers = {
      playlist: await code(`/hls/${MADE_UP}/live.m3u8`),
      part: await code(`/hls/${MADE_UP}/part/3.1.m4s`),
      feed: await code(`/api/spaces/${MADE_UP}/feed?v=5`),
      replay: await code(`/replay/${MADE_UP}/playlist.m3u8`),
      clip: await code(`/clips/${MADE_UP}/clip.mp4`),
      page: await code(`/s/${MADE_UP}`),
      clipPage: await code(`/c/${MADE_UP}`),
      space: await code(`/api/spaces/${MADE_UP}`),
      reaction: await code(`/api/spaces/${MADE_UP}/reactions`, post),
      stage: await code(`/api/spaces/${MADE_UP}/stage`),
      apiClip: await code(`/api/clips/${MADE_UP}`),
      apiJunk: await code('/api/zzzz/yyyy'),
      apiDeep: await code(`/api/spaces/${SPACE}/reactions/extra`, post),
      root: await code('/wp-login.php'),
      shortId: await code('/api/spaces/abc'),
    };
    assert.deepEqual(answers, {
      playlist: '404 SPACE_NOT_FOUND',
      part: '404 SPACE_NOT_FOUND',
      feed: '404 SPACE_NOT_FOUND',
      replay: '404 SPACE_NOT_FOUND',
      clip: '404 CLIP_NOT_FOUND',
      page: '404 page',
      clipPage: '404 page',
      space: '404 SPACE_NOT_FOUND',
      reaction: '404 SPACE_NOT_FOUND',
      stage: '404 SPACE_NOT_FOUND',
      apiClip: '404 CLIP_NOT_FOUND',
      apiJunk: '404 ROUTE_NOT_FOUND',
      apiDeep: '404 ROUTE_NOT_FOUND',
      root: '404 ROUTE_NOT_FOUND',
      shortId: '404 ROUTE_NOT_FOUND',
    });
    assert.deepEqual(seen.map((s) => s.url), [], 'none of them reached the origin');
    // The real id's routes do pass.
    assert.equal((await fetch(`${edge.url}/api/spaces/${SPACE}`)).status, 200);
    assert.equal((await fetch(`${edge.url}/api/spaces/${SPACE}/reactions`, post)).status, 200);
    assert.deepEqual(seen.map((s) => s.url), [`/api/spaces/${SPACE}`, `/api/spaces/${SPACE}/reactions`]);
  });
});

describe('deploy/nginx/tribune-edge.conf', () => {
  test('`npm run edge-config -- --check` passes on the committed file', async () => {
    const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'edge-config', '--', '--check'], { cwd: ROOT, env: cleanEnv() });
    assert.match(stdout, /is current, and nginx -t accepts it/);
  });

  test('carries the placeholder, not a secret, and the production paths', () => {
    const committed = readFileSync(DEPLOY_CONF, 'utf8');
    assert.equal(committed, renderDeployConfig(cleanEnv()));
    assert.equal([...committed.matchAll(new RegExp(`proxy_set_header x-tribune-edge "${SECRET_PLACEHOLDER}";`, 'g'))].length, 7);
    assert.equal([...committed.matchAll(new RegExp(`set \\$tribune_id_key "${SECRET_PLACEHOLDER}";`, 'g'))].length, 2);
    assert.equal([...committed.matchAll(/proxy_set_header x-tribune-edge "([^"]*)";/g)].filter((m) => m[1] !== SECRET_PLACEHOLDER).length, 0);
    assert.match(committed, /^user www-data;$/m);
    assert.match(committed, /listen 0\.0\.0\.0:80 /);
    assert.match(committed, /proxy_cache_path \/var\/cache\/tribune-edge /);
    assert.match(committed, /^pid \/var\/lib\/tribune-edge\/nginx\.pid;$/m);
  });
});
