/**
 * A tiny page that plays a Space's audience stream with Shaka Player, an
 * HLS client independent of hls.js (which Tribune's own page uses). It is
 * served by a plain node:http server on its own loopback port, so the
 * stream is cross-origin to it: playing at all proves the origin's CORS.
 *
 * The page exposes `window.shakaReport` (state, errors, the URLs Shaka
 * requested) and shows the same on screen for the screenshot.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

const SHAKA_FILE = join(process.cwd(), 'node_modules', 'shaka-player', 'dist', 'shaka-player.compiled.js');

export interface ShakaReport {
  state: 'loading' | 'loaded' | 'playing' | 'error' | 'unsupported';
  version: string;
  errors: string[];
  requests: string[];
  lowLatencyMode: boolean;
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tribune audience via Shaka Player</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;max-width:760px}pre{background:#f4f4f4;padding:8px;white-space:pre-wrap;word-break:break-all}</style>
<script src="/shaka-player.compiled.js"></script>
</head>
<body>
<h1>Tribune audience via Shaka Player</h1>
<p>An independent LL-HLS client, on another origin than the stream.</p>
<audio id="player" controls></audio>
<pre id="status">loading…</pre>
<script>
window.shakaReport = { state: 'loading', version: '', errors: [], requests: [], lowLatencyMode: false };
const report = window.shakaReport;
const status = document.getElementById('status');
const show = () => {
  const el = document.getElementById('player');
  status.textContent = 'shaka ' + report.version + ' | lowLatencyMode ' + report.lowLatencyMode + ' | ' + report.state +
    ' | t=' + el.currentTime.toFixed(2) + ' s | paused ' + el.paused + '\\nsource: ' + new URLSearchParams(location.search).get('src') +
    '\\nlast requests:\\n' + report.requests.slice(-6).join('\\n') + (report.errors.length ? '\\nerrors:\\n' + report.errors.join('\\n') : '') +
    (window.toneLine ? '\\n' + window.toneLine : '');
};
setInterval(show, 250);
(async () => {
  const src = new URLSearchParams(location.search).get('src');
  const el = document.getElementById('player');
  try {
    shaka.polyfill.installAll();
    report.version = shaka.Player.version;
    if (!shaka.Player.isBrowserSupported()) { report.state = 'unsupported'; return; }
    const player = new shaka.Player();
    await player.attach(el);
    player.addEventListener('error', (event) => report.errors.push('shaka ' + event.detail.code + ' ' + JSON.stringify(event.detail.data).slice(0, 300)));
    player.getNetworkingEngine().registerRequestFilter((type, request) => {
      if (report.requests.length < 2000) report.requests.push(request.uris[0]);
    });
    player.configure({ streaming: { lowLatencyMode: true } });
    report.lowLatencyMode = player.getConfiguration().streaming.lowLatencyMode === true;
    await player.load(src);
    report.state = 'loaded';
    el.muted = false;
    el.volume = 1;
    await el.play();
    report.state = 'playing';
  } catch (error) {
    report.state = 'error';
    report.errors.push(String(error && error.code !== undefined ? 'shaka ' + error.code + ' ' + JSON.stringify(error.data).slice(0, 300) : error));
  }
})();
</script>
</body>
</html>
`;

export interface ShakaPageServer {
  /** The page URL that plays `src`. */
  pageUrl(src: string): string;
  close(): Promise<void>;
}

export async function startShakaPageServer(): Promise<ShakaPageServer> {
  const shaka = await readFile(SHAKA_FILE);
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(PAGE);
    } else if (path === '/shaka-player.compiled.js') {
      response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      response.end(shaka);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  let closed = false;
  return {
    pageUrl: (src) => `http://127.0.0.1:${port}/?src=${encodeURIComponent(src)}`,
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
