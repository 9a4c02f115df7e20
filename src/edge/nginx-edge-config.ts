/**
 * The nginx edge in front of the origin: a pure renderer of its
 * configuration, used by `npm run edge-config` (deploy/nginx/), by
 * `npm run start:edge`, by the edge tests and by the fan-out bench, so all
 * of them run the same file.
 *
 * What it does, and why:
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

export interface EdgeConfigOptions {
  /** Where the edge listens, e.g. "0.0.0.0:80" or "127.0.0.1:8080". */
  listen: string;
  /** The origin, "host:port". */
  origin: string;
  /** A standby origin that takes over when the primary fails. */
  standbyOrigin?: string | undefined;
  /** Sent to the origin as `x-tribune-edge`; the origin refuses listener routes without it. */
  edgeSecret: string;
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
const SPACE = '[a-z2-9]{10}';

/** Values interpolated into the file: nothing that could end a directive, open a block, or name a variable. */
const SAFE_ADDRESS = /^[A-Za-z0-9.\-[\]:]+$/;
const SAFE_PATH = /^\/[A-Za-z0-9._\-/]*$/;
const SAFE_SECRET = /^[A-Za-z0-9._~+/=-]+$/;

function checkOptions(options: EdgeConfigOptions): void {
  const bad = (what: string, value: string): never => {
    throw new Error(`edge config: ${what} ${JSON.stringify(value)} has characters nginx would misread`);
  };
  for (const [what, value] of [['listen', options.listen], ['origin', options.origin], ['standbyOrigin', options.standbyOrigin]] as const) {
    if (value !== undefined && !SAFE_ADDRESS.test(value)) bad(what, value);
  }
  for (const [what, value] of [['prefix', options.prefix], ['cacheDir', options.cacheDir], ['accessLog', options.accessLog], ['errorLog', options.errorLog]] as const) {
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
  const log = options.accessLog
    ? `log_format edge '$msec $status $upstream_cache_status "$request_uri" $upstream_addr $request_time';\n  access_log ${options.accessLog} edge buffer=256k flush=1s;`
    : 'access_log off;';
  return `# Tribune edge cache for nginx. Generated by \`npm run edge-config\` from
# src/edge/nginx-edge-config.ts; edit that, not this file.
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

  proxy_cache_path ${options.cacheDir} levels=1:2 keys_zone=tribune:64m max_size=2g inactive=10m use_temp_path=off;

  upstream tribune_origin {
    server ${options.origin} max_fails=2 fail_timeout=3s;${standby}
    keepalive 128;
    # Below the origin's own idle timeout (10 s), so nginx never reuses a
    # connection the origin is closing (a POST on it would fail with 502).
    keepalive_timeout 8s;
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

  server {
    listen ${options.listen} reuseport backlog=65535;
    limit_conn tribune_conn ${limits.connectionsPerIp};

    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header x-tribune-edge "${options.edgeSecret}";
    # Fail over to the standby when the origin is unreachable or broken, not
    # on its 503s: those are answers it means (a part that did not come in
    # 12 s, a full origin), and counting them as failures (max_fails) would
    # take a healthy primary out for every listener.
    proxy_next_upstream error timeout http_502 http_504;
    proxy_connect_timeout 2s;

    # --- listener objects: cached and collapsed ------------------------------
    # Parts, segments and the init segment: immutable (the origin says so).
    location ~ "^/hls/${SPACE}/(init\\.mp4|seg/[0-9]{1,9}\\.m4s|part/[0-9]{1,9}\\.[0-9]{1,2}\\.m4s)$" {
      limit_req zone=tribune_reads burst=${limits.readBurst} nodelay;
${collapsed('$uri')}
      proxy_pass http://tribune_origin$uri;
    }

    # Playlists, blocking reloads included: one key per directive set.
    location ~ "^/hls/${SPACE}/(master|live)\\.m3u8$" {
      limit_req zone=tribune_reads burst=${limits.readBurst} nodelay;
      types { }
      default_type application/json;
      if ($tribune_hls_malformed) {
        add_header cache-control no-store always;
        add_header access-control-allow-origin * always;
        return 400 '{"error":{"code":"HLS_QUERY_INVALID","message":"_HLS_msn and _HLS_part take non-negative integers, _HLS_skip takes YES or v2"}}';
      }
${collapsed('$uri?$tribune_q_msn$tribune_q_part$tribune_q_skip')}
      proxy_pass http://tribune_origin$uri?$tribune_q_msn$tribune_q_part$tribune_q_skip;
    }

    # Any other path under /hls is not a listener object: answered here.
    location /hls/ {
      return 404;
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
      proxy_pass http://tribune_origin$uri?$tribune_q_v;
    }

    # Replays and clips: the same bytes for everyone once a Space has ended.
    # Cached as long as the origin says (an hour: not immutable, a host can
    # delete a replay), collapsed, query strings dropped.
    location ~ "^/(replay/${SPACE}/(playlist\\.m3u8|init\\.mp4|timeline\\.json|download\\.ogg|seg-[0-9]{1,12}\\.m4s)|clips/${SPACE}/(playlist\\.m3u8|init\\.mp4|clip\\.m4s|clip\\.mp4))$" {
      limit_req zone=tribune_reads burst=${limits.readBurst} nodelay;
${collapsed('$uri')}
      proxy_pass http://tribune_origin$uri;
    }

    # --- everything else: passed through, never cached ------------------------
    # The stage WebSocket.
    location ~ "^/api/spaces/${SPACE}/stage$" {
      limit_req zone=tribune_writes burst=${limits.writeBurst} nodelay;
      # proxy_set_header here replaces the server's list, so it is repeated whole.
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $tribune_connection;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header x-tribune-edge "${options.edgeSecret}";
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_pass http://tribune_origin;
    }

    location /api/ {
      limit_req zone=tribune_writes burst=${limits.writeBurst} nodelay;
      proxy_read_timeout 30s;
      proxy_pass http://tribune_origin;
    }

    # The web client's page and bundle: the same bytes for everyone, and the
    # first thing a launch wave asks for. The origin says max-age=0 (browsers
    # revalidate, so a new version shows at once); the edge keeps them 10 s and
    # then revalidates by ETag, so the origin serves each file once per edge
    # every 10 s, not once per listener.
    location ~ "^/(|index\\.html|app\\.js|styles\\.css|s/${SPACE}|c/${SPACE}|signin|host|new)$" {
      limit_req zone=tribune_reads burst=${limits.readBurst} nodelay;
      proxy_cache tribune;
      proxy_cache_key $uri;
      proxy_ignore_headers Cache-Control Expires Set-Cookie;
      proxy_hide_header Set-Cookie;
      proxy_cache_valid 200 10s;
      proxy_cache_revalidate on;
      proxy_cache_lock on;
      # nginx counts a cache node's uses in 10 bits: with the default min_uses 1, every
      # 1,024th concurrent request for an entry not cached yet sees the count wrap to 0
      # and goes to the origin uncached, past the lock. 0 caches from the first use.
      proxy_cache_min_uses 0;
      proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
      add_header x-cache $upstream_cache_status always;
      proxy_pass http://tribune_origin$uri;
    }

    # Anything else (health, source maps): passed through.
    location / {
      limit_req zone=tribune_reads burst=${limits.readBurst} nodelay;
      proxy_pass http://tribune_origin;
    }
  }
}
`;
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
