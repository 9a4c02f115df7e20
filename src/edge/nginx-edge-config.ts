/**
 * The nginx edge in front of the origin: a pure renderer of its
 * configuration, used by `npm run edge-config` (deploy/nginx/), by
 * `npm run start:edge`, by the edge tests and by the fan-out bench, so all
 * of them run the same file.
 *
 * What it does, and why:
 * - Nothing made up reaches the origin. Paths that are not a route of
 *   Tribune's are answered 404 here (the API's routes are listed in
 *   EDGE_API_ROUTES; a test checks the list against the origin's). Ids in
 *   paths carry a tag the edge checks (src/store/public-ids.ts), and a
 *   listener object the cache does not have goes through the gate
 *   (njs/tribune-gate.js), which answers from the live playlist and feed the
 *   edge already holds whatever the origin's answer can be known: directives
 *   and part names out of the window, old feed versions.
 * - Listener routes (playlists, parts, segments, init, the state feed) are
 *   cached and collapsed: one origin request per object per edge
 *   (proxy_cache_lock). The lock and read timeouts sit above the origin's
 *   longest hold (LL-HLS blocking reload: 3 target durations = 12 s; the
 *   feed: 20 s), otherwise a waiter whose lock timed out would go to the
 *   origin itself, uncached: nginx's 5 s default would send a second wave.
 * - The cache key is the path plus `_HLS_msn`, `_HLS_part`, `_HLS_skip` (RFC
 *   8216bis §6.2.5) and the feed's `v`; every other query parameter is
 *   dropped from the key and from the request to the origin, so junk query
 *   strings collapse onto the real object. Paths that are not listener
 *   objects of the right shape are answered 404 at the edge.
 * - Parts, segments and init are immutable; when the origin fails the edge
 *   serves what it has (stale-if-error), and an upstream `backup` server is
 *   the standby origin.
 * - The web client's page and bundle are cached for 10 s and revalidated,
 *   so a launch wave loads them from the edge.
 * - Per-IP connection and request limits sized for real players (an LL-HLS
 *   player makes about 2 requests a second and holds 1-6 connections; the
 *   limits leave room for a household or a small office behind one address).
 * - The origin only answers listener routes that carry the edge's shared
 *   secret header (TRIBUNE_EDGE_SECRET), so nobody can skip the edge.
 */

import { PARTS_PER_SEGMENT } from '../hls/hls-types.js';
import { ERRORS, TribuneError, type ErrorCode } from '../wire/errors.js';
import { STAGE_PASS_MAX_CHARS } from '../wire/limits.js';
import { ID_ALPHABET, PUBLIC_ID_RANDOM, PUBLIC_ID_SOURCE, PUBLIC_ID_TAG } from '../wire/public-id.js';

export interface EdgeConfigOptions {
  /** Where the edge listens, e.g. "0.0.0.0:80" or "127.0.0.1:8080". */
  listen: string;
  /** The origin, "host:port". */
  origin: string;
  /** A standby origin that takes over when the primary fails. */
  standbyOrigin?: string | undefined;
  /** Sent to the origin as `x-tribune-edge`; the origin refuses listener routes without it. */
  edgeSecret: string;
  /** The origin's id key (hex, TRIBUNE_ID_KEY): the edge refuses ids the origin did not mint. */
  idKey: string;
  /**
   * The public key of the origin's stage passes (StageTokens.publicKey(), base64url
   * x and y of a P-256 point): the edge refuses forged, tampered, expired and
   * other Spaces' passes before an upgrade reaches the origin. It cannot mint one.
   */
  stagePassKey: { x: string; y: string };
  /** Directory holding the njs modules (src/edge/njs/), absolute. */
  njsDir: string;
  /** nginx's njs module (Debian: libnginx-mod-http-js). */
  jsModule?: string | undefined;
  /** Directory for the pid file, temp files and logs (nginx -p). */
  prefix: string;
  /** The cache directory. */
  cacheDir: string;
  /** Writes one access-log line per request with the cache status (for tests and benches). */
  accessLog?: string | undefined;
  /** The error log; default `<prefix>/error.log`. */
  errorLog?: string | undefined;
  /** Addresses exempt from the per-IP limits (a load generator on loopback). */
  unlimited?: string[] | undefined;
  /** `user` directive; needed when nginx starts as root. */
  user?: string | undefined;
  workerProcesses?: number | 'auto' | undefined;
  /** Per-IP limits. */
  limits?: Partial<EdgeLimits> | undefined;
}

export interface EdgeLimits {
  connectionsPerIp: number;
  /** Listener GETs per second per IP, and the burst above it. */
  readsPerSecondPerIp: number;
  readBurst: number;
  /** Writes (API, beacons, reactions) per second per IP, and the burst. */
  writesPerSecondPerIp: number;
  writeBurst: number;
}

export const DEFAULT_EDGE_LIMITS: EdgeLimits = {
  connectionsPerIp: 200,
  readsPerSecondPerIp: 200,
  readBurst: 400,
  writesPerSecondPerIp: 20,
  writeBurst: 40,
};

/** Above the origin's longest hold: 12 s for a blocking playlist or part, 20 s for the feed. */
export const EDGE_HOLD_S = 35;

// Regexes with {n} are quoted in the config: nginx reads a bare { as a block.
const SPACE = PUBLIC_ID_SOURCE;
export const JS_MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';

/**
 * Every API route of the origin but the feed and the stage (which have
 * locations of their own), as the OpenAPI document writes them; anything
 * else under /api/ is answered 404 by the edge. `{id}` and `{clipId}` are
 * public ids, checked by their tag; the other parameters are account,
 * token, notification and pin ids. test/unit/edge-config.test.ts checks the
 * list against docs/openapi.json.
 */
export const EDGE_API_ROUTES = [
  '/api/session',
  '/api/accounts',
  '/api/tokens',
  '/api/tokens/{tokenId}',
  '/api/notifications',
  '/api/notifications/{notificationId}/read',
  '/api/spaces',
  '/api/me/spaces',
  '/api/spaces/{id}',
  '/api/spaces/{id}/start',
  '/api/spaces/{id}/cancel',
  '/api/spaces/{id}/end',
  '/api/spaces/{id}/me',
  '/api/spaces/{id}/subscription',
  '/api/spaces/{id}/calendar.ics',
  '/api/spaces/{id}/requests',
  '/api/spaces/{id}/requests/me',
  '/api/spaces/{id}/requests/{accountId}/accept',
  '/api/spaces/{id}/requests/{accountId}/decline',
  '/api/spaces/{id}/invites',
  '/api/spaces/{id}/invites/me/accept',
  '/api/spaces/{id}/invites/me/decline',
  '/api/spaces/{id}/roles/{accountId}',
  '/api/spaces/{id}/members/{accountId}/mute',
  '/api/spaces/{id}/members/{accountId}/unmute',
  '/api/spaces/{id}/step-down',
  '/api/spaces/{id}/blocks',
  '/api/spaces/{id}/blocks/{accountId}',
  '/api/spaces/{id}/stage-pass',
  '/api/spaces/{id}/presence',
  '/api/spaces/{id}/reactions',
  '/api/spaces/{id}/pins',
  '/api/spaces/{id}/pins/{pinId}',
  '/api/spaces/{id}/replay',
  '/api/spaces/{id}/clips',
  '/api/clips/{clipId}',
] as const;

const PARAMETER_PATTERNS: Record<string, string> = {
  tokenId: '[a-z2-9]{12}',
  notificationId: '[a-z2-9]{12}',
  accountId: '[a-z2-9]{12}',
  pinId: '[a-z2-9]{6}',
};

/** The tails after /api/<kind>/<public id> of the routes that have one, as one regex alternation. */
function apiTails(kind: 'spaces' | 'clips'): string {
  const prefix = `/api/${kind}/{${kind === 'spaces' ? 'id' : 'clipId'}}`;
  const tails = EDGE_API_ROUTES.filter((route) => route === prefix || route.startsWith(`${prefix}/`)).map((route) => route.slice(prefix.length));
  return `(${tails.map(routeRegex).join('|')})`;
}

/** The routes without a public id, as one alternation after /api. */
function apiPlainRoutes(): string {
  const plain = EDGE_API_ROUTES.filter((route) => !route.includes('{id}') && !route.includes('{clipId}')).map((route) => route.slice('/api'.length));
  return `(${plain.map(routeRegex).join('|')})`;
}

function routeRegex(route: string): string {
  return route.replace(/\./g, '\\.').replace(/\{([a-zA-Z]+)\}/g, (_whole, name: string) => {
    const pattern = PARAMETER_PATTERNS[name];
    if (!pattern) throw new Error(`edge config: no pattern for {${name}}`);
    return pattern;
  });
}

/** A catalogue error as an nginx `return` argument (single-quoted). */
function errorBody(code: ErrorCode): string {
  const body = JSON.stringify(new TribuneError(code).toBody());
  if (/[$'\\]/.test(body)) throw new Error(`edge config: the ${code} body has characters nginx would misread`);
  return `${ERRORS[code].status} '${body}'`;
}

/**
 * What the njs modules need besides the keys: the playlist's shape, the
 * longest stage pass, and the catalogue entries they answer with (so neither
 * module keeps a copy of src/wire/errors.ts).
 */
function gateSettings(): string {
  const codes: ErrorCode[] = [
    'SPACE_NOT_FOUND',
    'CLIP_NOT_FOUND',
    'HLS_PART_WITHOUT_MSN',
    'HLS_MSN_TOO_FAR',
    'HLS_PART_TOO_FAR',
    'HLS_NOT_FOUND',
    'REPLAY_NOT_FOUND',
    'TOKEN_MISSING',
    'TOKEN_INVALID',
    'TOKEN_WRONG_SPACE',
  ];
  const errors = Object.fromEntries(codes.map((code) => [code, { status: ERRORS[code].status, message: ERRORS[code].message }]));
  const settings = {
    alphabet: ID_ALPHABET,
    idRandom: PUBLIC_ID_RANDOM,
    idTag: PUBLIC_ID_TAG,
    parts: PARTS_PER_SEGMENT,
    // Segments behind the window the gate still lets a late listener ask the origin for.
    behindSegments: 2,
    passMaxChars: STAGE_PASS_MAX_CHARS,
    // A feed version further than this past the edge's clock cannot exist yet (versions are the origin's clock in ms).
    feedAheadMs: 10_000,
    errors,
  };
  return Buffer.from(JSON.stringify(settings)).toString('base64');
}

/** Values interpolated into the file: nothing that could end a directive, open a block, or name a variable. */
const SAFE_ADDRESS = /^[A-Za-z0-9.\-[\]:]+$/;
const SAFE_PATH = /^\/[A-Za-z0-9._\-/]*$/;
const SAFE_SECRET = /^[A-Za-z0-9._~+/=-]+$/;
const SAFE_KEY = /^([0-9a-f]{2}){16,64}$|^CHANGE-ME$/;

function checkOptions(options: EdgeConfigOptions): void {
  const bad = (what: string, value: string): never => {
    throw new Error(`edge config: ${what} ${JSON.stringify(value)} has characters nginx would misread`);
  };
  for (const [what, value] of [['listen', options.listen], ['origin', options.origin], ['standbyOrigin', options.standbyOrigin]] as const) {
    if (value !== undefined && !SAFE_ADDRESS.test(value)) bad(what, value);
  }
  if (!SAFE_KEY.test(options.idKey)) bad('idKey', options.idKey);
  for (const coordinate of [options.stagePassKey.x, options.stagePassKey.y]) {
    if (!/^[A-Za-z0-9_-]{43}$|^CHANGE-ME$/.test(coordinate)) bad('stagePassKey', coordinate);
  }
  for (const [what, value] of [['prefix', options.prefix], ['cacheDir', options.cacheDir], ['accessLog', options.accessLog], ['errorLog', options.errorLog], ['njsDir', options.njsDir], ['jsModule', options.jsModule]] as const) {
    if (value !== undefined && !SAFE_PATH.test(value)) bad(what, value);
  }
  // In an nginx string `$` starts a variable and `"` ends it.
  if (!SAFE_SECRET.test(options.edgeSecret)) bad('edgeSecret', options.edgeSecret);
  for (const cidr of options.unlimited ?? []) if (!/^[0-9a-fA-F.:/]+$/.test(cidr)) bad('unlimited', cidr);
  if (options.user !== undefined && !/^[a-z_][a-z0-9_-]*$/.test(options.user)) bad('user', options.user);
}

export function renderNginxEdgeConfig(options: EdgeConfigOptions): string {
  checkOptions(options);
  const limits = { ...DEFAULT_EDGE_LIMITS, ...options.limits };
  const unlimited = (options.unlimited ?? []).map((cidr) => `    ${cidr} 0;`).join('\n');
  const standby = options.standbyOrigin ? `\n    server ${options.standbyOrigin} backup;` : '';
  const gateSocket = `${options.prefix}/gate.sock`;
  const settings = gateSettings();
  const log = options.accessLog
    ? `log_format edge '$msec $status $upstream_cache_status "$request_uri" $upstream_addr $request_time';\n  access_log ${options.accessLog} edge buffer=256k flush=1s;`
    : 'access_log off;';
  // The headers the origin gets with every request; repeated where a location sets its own.
  const toOrigin = (forwardedFor: string) =>
    [
      // With its port: the origin builds links (a stage pass's socket URL) from it,
      // and $host drops the port, which broke every edge not on port 80.
      'proxy_set_header Host $tribune_host;',
      `proxy_set_header X-Forwarded-For ${forwardedFor};`,
      `proxy_set_header X-Forwarded-Proto ${forwardedFor === '$remote_addr' ? '$scheme' : '$http_x_forwarded_proto'};`,
      `proxy_set_header x-tribune-edge "${options.edgeSecret}";`,
    ];
  const indent = (lines: string[], by: string) => lines.map((line) => `${by}${line}`).join('\n');
  return `# Tribune edge cache for nginx. Generated by \`npm run edge-config\` from
# src/edge/nginx-edge-config.ts; edit that, not this file.
load_module ${options.jsModule ?? JS_MODULE};
${options.user ? `user ${options.user};\n` : ''}worker_processes ${options.workerProcesses ?? 'auto'};
worker_rlimit_nofile 200000;
pid ${options.prefix}/nginx.pid;
error_log ${options.errorLog ?? `${options.prefix}/error.log`} warn;

events {
  worker_connections 65536;
  multi_accept on;
}

http {
  ${log}
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  server_tokens off;
  # Players keep their connection between reloads; a slow or idle one does not hold it forever.
  keepalive_timeout 65s;
  keepalive_requests 100000;
  client_header_timeout 10s;
  client_body_timeout 10s;
  send_timeout 30s;
  client_max_body_size 16k;
  client_header_buffer_size 2k;
  large_client_header_buffers 4 8k;
  reset_timedout_connection on;

  client_body_temp_path ${options.prefix}/client_temp;
  proxy_temp_path ${options.prefix}/proxy_temp;
  fastcgi_temp_path ${options.prefix}/fastcgi_temp;
  uwsgi_temp_path ${options.prefix}/uwsgi_temp;
  scgi_temp_path ${options.prefix}/scgi_temp;
  types {
    application/vnd.apple.mpegurl m3u8;
    audio/mp4 m4s mp4;
  }

  # The gate (njs): what the edge answers itself instead of asking the origin.
  js_path ${options.njsDir};
  js_import gate from tribune-gate.js;
  js_import stage_pass from stage-pass.js;
  js_set $tribune_id_genuine gate.idGenuine;

  proxy_cache_path ${options.cacheDir} levels=1:2 keys_zone=tribune:64m max_size=2g inactive=10m use_temp_path=off;

  upstream tribune_origin {
    server ${options.origin} max_fails=2 fail_timeout=3s;${standby}
    keepalive 128;
    # Below the origin's own idle timeout (10 s), so nginx never reuses a
    # connection the origin is closing (a POST on it would fail with 502).
    keepalive_timeout 8s;
  }

  # Cache misses of listener objects go through the gate, on a local socket.
  upstream tribune_gate {
    server unix:${gateSocket};
    keepalive 64;
  }

  # Per-IP limits; the addresses listed map to an empty key, which nginx does not limit.
  geo $tribune_limited {
    default 1;
${unlimited}
  }
  map $tribune_limited $tribune_limit_key {
    0 "";
    default $binary_remote_addr;
  }
  limit_conn_zone $tribune_limit_key zone=tribune_conn:20m;
  limit_req_zone $tribune_limit_key zone=tribune_reads:20m rate=${limits.readsPerSecondPerIp}r/s;
  limit_req_zone $tribune_limit_key zone=tribune_writes:20m rate=${limits.writesPerSecondPerIp}r/s;
  limit_conn_status 429;
  limit_req_status 429;

  # Only the LL-HLS directives (RFC 8216bis §6.2.5) and the feed version reach the
  # cache key and the origin; every other query parameter is dropped.
  map $arg__HLS_msn $tribune_q_msn { "" ""; default "_HLS_msn=$arg__HLS_msn"; }
  map $arg__HLS_part $tribune_q_part { "" ""; default "&_HLS_part=$arg__HLS_part"; }
  map $arg__HLS_skip $tribune_q_skip { "" ""; default "&_HLS_skip=$arg__HLS_skip"; }
  map $arg_v $tribune_q_v { "" ""; default "v=$arg_v"; }
  # Malformed values of those are answered 400 here, as the origin would answer
  # them (uncached), so that no value an attacker makes up reaches the origin.
  map "$arg__HLS_msn|$arg__HLS_part|$arg__HLS_skip" $tribune_hls_malformed {
    "~^[0-9]{0,9}\\|[0-9]{0,9}\\|(YES|v2)?$" "";
    default 1;
  }
  # (A map tries no regex on an empty value, hence the explicit "".)
  map $arg_v $tribune_feed_malformed { "" ""; "~^[0-9]{1,15}$" ""; default 1; }

  map $http_upgrade $tribune_connection { default upgrade; "" ""; }
  # The Host the client sent, port included; $host (no port) when it sent none.
  map $http_host $tribune_host { "" $host; default $http_host; }

  server {
    listen ${options.listen} reuseport backlog=65535;
    limit_conn tribune_conn ${limits.connectionsPerIp};
    set $tribune_id_key "${options.idKey}";
    set $tribune_gate "${settings}";

    proxy_http_version 1.1;
    proxy_set_header Connection "";
${indent(toOrigin('$remote_addr'), '    ')}
    # Fail over to the standby when the origin is unreachable or broken, not
    # on its 503s: those are answers it means (a part that did not come in
    # 12 s, a full origin), and counting them as failures (max_fails) would
    # take a healthy primary out for every listener.
    proxy_next_upstream error timeout http_502 http_504;
    proxy_connect_timeout 2s;

    # --- listener objects: cached and collapsed; misses go through the gate ----
    # Parts, segments and the init segment: immutable (the origin says so).
    location ~ "^/hls/${SPACE}/(init\\.mp4|seg/[0-9]{1,9}\\.m4s|part/[0-9]{1,9}\\.[0-9]{1,2}\\.m4s)$" {
      limit_req zone=tribune_reads burst=${limits.readBurst} nodelay;
${collapsed('$uri')}
      proxy_pass http://tribune_gate$uri;
    }

    # Playlists, blocking reloads included: one key per directive set.
    location ~ "^/hls/${SPACE}/(master|live)\\.m3u8$" {
      limit_req zone=tribune_reads burst=${limits.readBurst} nodelay;
      types { }
      default_type application/json;
      if ($tribune_hls_malformed) {
        add_header cache-control no-store always;
        add_header access-control-allow-origin * always;
        return ${errorBody('HLS_QUERY_INVALID')};
      }
${collapsed('$uri?$tribune_q_msn$tribune_q_part$tribune_q_skip')}
      proxy_pass http://tribune_gate$uri?$tribune_q_msn$tribune_q_part$tribune_q_skip;
    }

    # Any other path under /hls is not a listener object: answered here.
    location /hls/ {
      default_type application/json;
      add_header cache-control no-store always;
      return ${errorBody('HLS_NOT_FOUND')};
    }

    # The state feed: one key per version asked for.
    location ~ "^/api/spaces/${SPACE}/feed$" {
      limit_req zone=tribune_reads burst=${limits.readBurst} nodelay;
      default_type application/json;
      if ($tribune_feed_malformed) {
        add_header cache-control no-store always;
        add_header access-control-allow-origin * always;
        return 400 '{"error":{"code":"VALIDATION_FAILED","message":"The request does not match its schema","details":"querystring/v must be a version number"}}';
      }
${collapsed('$uri?$tribune_q_v')}
      proxy_pass http://tribune_gate$uri?$tribune_q_v;
    }

    # Replays and clips: the same bytes for everyone once a Space has ended.
    # Cached as long as the origin says (an hour: not immutable, a host can
    # delete a replay), collapsed, query strings dropped.
    location ~ "^/(replay/${SPACE}/(playlist\\.m3u8|init\\.mp4|timeline\\.json|download\\.ogg|seg-[0-9]{1,12}\\.m4s)|clips/${SPACE}/(playlist\\.m3u8|init\\.mp4|clip\\.m4s|clip\\.mp4))$" {
      limit_req zone=tribune_reads burst=${limits.readBurst} nodelay;
${collapsed('$uri')}
      proxy_pass http://tribune_gate$uri;
    }

    # --- the API: its routes only, ids checked; never cached ---------------------
    # The stage WebSocket.
    location ~ "^/api/spaces/(?<tribune_id>${SPACE})/stage$" {
      limit_req zone=tribune_writes burst=${limits.writeBurst} nodelay;
      default_type application/json;
      if ($tribune_id_genuine = "") {
        add_header cache-control no-store always;
        return ${errorBody('SPACE_NOT_FOUND')};
      }
      # The stage pass is checked here (njs/stage-pass.js, ES256 with the origin's
      # public key): a forged, tampered, expired or other Space's pass is refused
      # with the origin's own answer, and only a good one is tunnelled.
      auth_request /_tribune/stage-pass;
      auth_request_set $tribune_pass_refusal $sent_http_x_tribune_refusal;
      error_page 401 = @tribune_pass_401;
      error_page 403 = @tribune_pass_403;
      # proxy_set_header here replaces the server's list, so it is repeated whole.
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $tribune_connection;
${indent(toOrigin('$remote_addr'), '      ')}
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_pass http://tribune_origin;
    }

    location = /_tribune/stage-pass {
      internal;
      set $tribune_pass_x "${options.stagePassKey.x}";
      set $tribune_pass_y "${options.stagePassKey.y}";
      js_content stage_pass.check;
    }
    location @tribune_pass_401 {
      default_type application/json;
      add_header cache-control no-store always;
      return 401 $tribune_pass_refusal;
    }
    location @tribune_pass_403 {
      default_type application/json;
      add_header cache-control no-store always;
      return 403 $tribune_pass_refusal;
    }

    location ~ "^/api/spaces/(?<tribune_id>${SPACE})${apiTails('spaces')}$" {
      limit_req zone=tribune_writes burst=${limits.writeBurst} nodelay;
      default_type application/json;
      if ($tribune_id_genuine = "") {
        add_header cache-control no-store always;
        return ${errorBody('SPACE_NOT_FOUND')};
      }
      proxy_read_timeout 30s;
      proxy_pass http://tribune_origin;
    }

    location ~ "^/api/clips/(?<tribune_id>${SPACE})${apiTails('clips')}$" {
      limit_req zone=tribune_writes burst=${limits.writeBurst} nodelay;
      default_type application/json;
      if ($tribune_id_genuine = "") {
        add_header cache-control no-store always;
        return ${errorBody('CLIP_NOT_FOUND')};
      }
      proxy_read_timeout 30s;
      proxy_pass http://tribune_origin;
    }

    location ~ "^/api${apiPlainRoutes()}$" {
      limit_req zone=tribune_writes burst=${limits.writeBurst} nodelay;
      proxy_read_timeout 30s;
      proxy_pass http://tribune_origin;
    }

    location /api/ {
      default_type application/json;
      add_header cache-control no-store always;
      return ${errorBody('ROUTE_NOT_FOUND')};
    }

    # --- the web client ----------------------------------------------------------
    # The page and bundle: the same bytes for everyone, and the first thing a
    # launch wave asks for. The origin says max-age=0 (browsers revalidate, so
    # a new version shows at once); the edge keeps them 10 s and then
    # revalidates by ETag, so the origin serves each file once per edge every
    # 10 s, not once per listener.
    location ~ "^/(|index\\.html|app\\.js|app\\.js\\.map|styles\\.css|signin|host|new)$" {
      limit_req zone=tribune_reads burst=${limits.readBurst} nodelay;
${page()}
      proxy_pass http://tribune_origin$uri;
    }

    # A Space's or a clip's page: the same, and a made-up id stops at the gate.
    location ~ "^/(s|c)/${SPACE}$" {
      limit_req zone=tribune_reads burst=${limits.readBurst} nodelay;
${page()}
      proxy_pass http://tribune_gate$uri;
    }

    location = /healthz {
      limit_req zone=tribune_reads burst=${limits.readBurst} nodelay;
      proxy_pass http://tribune_origin;
    }

    # Nothing else is Tribune's.
    location / {
      default_type application/json;
      add_header cache-control no-store always;
      return ${errorBody('ROUTE_NOT_FOUND')};
    }
  }

  # The gate: reached only through the local socket, by the server above.
  server {
    listen unix:${gateSocket};
    set $tribune_id_key "${options.idKey}";
    set $tribune_gate "${settings}";
    proxy_http_version 1.1;
    proxy_set_header Connection "";
${indent(toOrigin('$http_x_forwarded_for'), '    ')}
    proxy_next_upstream error timeout http_502 http_504;
    proxy_connect_timeout 2s;
    proxy_read_timeout ${EDGE_HOLD_S}s;

    location / {
      js_content gate.listenerObject;
    }

    location @origin {
      proxy_pass http://tribune_origin;
    }

    # What the gate reads to judge a request: the live playlist, the feed and
    # a replay's playlist, from this edge's cache, each under a key of its own
    # and asked of the origin at most once a second per Space (a minute for a
    # replay) by the edge itself, not on any client's behalf.
${stateLocation('live', '/hls/$tribune_sid/live.m3u8', '1s')}
${stateLocation('feed', '/api/spaces/$tribune_sid/feed', '1s')}
${stateLocation('feed-fresh', '/api/spaces/$tribune_sid/feed', '1s')}
${stateLocation('replay', '/replay/$tribune_sid/playlist.m3u8', '60s')}
  }
}
`;

  function stateLocation(name: string, upstreamPath: string, valid: string): string {
    return `    location ~ "^/__state/${name}/(?<tribune_sid>${SPACE})$" {
      internal;
      proxy_cache tribune;
      proxy_cache_key "state:${name}:$tribune_sid";
      proxy_cache_lock on;
      proxy_cache_lock_timeout ${EDGE_HOLD_S}s;
      proxy_cache_min_uses 0;
      proxy_ignore_headers Cache-Control Expires Set-Cookie;
      proxy_cache_valid 200 404 410 ${valid};
      # No stale copies: the gate judges by this, and an expired copy can be
      # minutes old. Waiters share one refresh (the lock); when the origin fails,
      # the gate gets the error and sends the request on.
      subrequest_output_buffer_size 512k;
${indent(toOrigin('""'), '      ')}
      proxy_pass http://tribune_origin${upstreamPath};
    }`;
  }
}

/** The web client's files: kept 10 s at the edge, then revalidated by ETag. */
function page(): string {
  return [
    'proxy_cache tribune;',
    'proxy_cache_key $uri;',
    'proxy_ignore_headers Cache-Control Expires Set-Cookie;',
    'proxy_hide_header Set-Cookie;',
    'proxy_cache_valid 200 10s;',
    'proxy_cache_revalidate on;',
    'proxy_cache_lock on;',
    '# 0, not the default 1: a use count that wraps at 1,024 would let a request past the lock.',
    'proxy_cache_min_uses 0;',
    'proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;',
    'add_header x-cache $upstream_cache_status always;',
  ]
    .map((line) => `      ${line}`)
    .join('\n');
}

/**
 * The directives every cached listener location shares: one origin request
 * per key however many wait (the lock, held above the origin's longest
 * hold), stale copies when the origin fails, no cookies either way.
 */
function collapsed(key: string): string {
  // `updating` on the feed too, though it costs requests: the feed's "nothing
  // new since v" answer is cached for a second under the key the next
  // long-poll uses, so while that poll is held at the origin the stale copy
  // answers waiting listeners at once and they poll again within 1-2 s
  // (0.25 feed requests per listener per second). Without it the waiters sit
  // on nginx's cache lock, which wakes each of them every 500 ms: measured at
  // 10,000 listeners (docs/BENCHMARKS.md, "Fan-out", 2026-11-24 08:26-08:48)
  // the feed fell to 0.1 requests per listener per second but 0.7-2.2 % of
  // parts came late and the total CPU did not fall. A held feed needs an
  // edge that wakes lock waiters at once (Varnish), not this one.
  return [
    'proxy_cache tribune;',
    `proxy_cache_key ${key};`,
    'proxy_cache_lock on;',
    // nginx counts a cache node's uses in 10 bits: with the default min_uses 1,
    // every 1,024th concurrent request for an entry not cached yet sees the
    // count wrap to 0 and goes to the origin uncached, past the lock.
    '# 0, not the default 1: a use count that wraps at 1,024 would let a request past the lock.',
    'proxy_cache_min_uses 0;',
    `proxy_cache_lock_timeout ${EDGE_HOLD_S}s;`,
    `proxy_cache_lock_age ${EDGE_HOLD_S}s;`,
    `proxy_read_timeout ${EDGE_HOLD_S}s;`,
    'proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;',
    'proxy_ignore_headers Set-Cookie;',
    'proxy_hide_header Set-Cookie;',
    'add_header x-cache $upstream_cache_status always;',
  ]
    .map((line) => `      ${line}`)
    .join('\n');
}
