/**
 * The optional cross-check of bench/latency-bench.ts (BENCH_BROWSER=1): real
 * hls.js (node_modules/hls.js/dist/hls.min.js) in Debian's Chromium, with the
 * listener page's settings (lowLatencyMode, liveSyncDuration 1.0 s), plays
 * the same Space while the benchmark's own listeners do.
 *
 * Per page session it records: every HLS request the page made; the time from
 * navigation start to the audio element's first 'playing' event (time to
 * first audio, page load included, though the page itself is tiny); every
 * 200 ms, the playout offset Date.now() - hls.playingDate (how far behind the
 * program date time the playhead is) and hls.latency (hls.js's own estimate,
 * against the live edge it computes); and the wall time at which the 1 kHz
 * bursts reach WebAudio (a ScriptProcessor behind createMediaElementSource),
 * matched to the speaker's send times for an end-to-end latency that includes
 * MSE and Chromium's audio pipeline.
 *
 * The page is served by intercepting requests (page.route) on the server's
 * own origin, so the HLS requests are same-origin and reach the real server.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launchChromium } from '../test/helpers/browser.js';
import { MAX_LIVE_SYNC_RATE } from '../src/web/listener/player-config.js';
import { percentile, positive, round, sleep } from './bench-util.js';

const HLS_JS = fileURLToPath(new URL('../node_modules/hls.js/dist/hls.min.js', import.meta.url));
/** Pages listening at a time, and sessions each page runs one after another. */
const PAGES = 2;
const SESSIONS_PER_PAGE = positive('BENCH_BROWSER_SESSIONS', 3);
const LIVE_SYNC_S = 1.0;
/**
 * hls.js maxLiveSyncPlaybackRate: 1 (hls.js's default, the page's setting)
 * never speeds playback up to reach liveSyncDuration. BENCH_BROWSER_MAX_RATE
 * tries another value (an experiment: not the page as it is).
 */
const MAX_RATE = positive('BENCH_BROWSER_MAX_RATE', MAX_LIVE_SYNC_RATE);

export interface BrowserSession {
  ttfa_ms: number | undefined;
  /** Age of the live edge of the first playlist when it loaded, in ms. */
  join_edge_age_ms: number | undefined;
  /** From the first playlist loaded to 'playing', in ms. */
  playlist_to_playing_ms: number | undefined;
  /** What the benchmark's model predicts for the playout offset: liveSyncDuration + join edge age + playlist to playing, in ms. */
  model_offset_ms: number | undefined;
  requests: { playlist: number; blocking_playlist: number; init: number; part: number; other: number };
  requests_per_s: number;
  duration_s: number;
  /** Date.now() - hls.playingDate while playing, in ms: p50 and range over the session, and p50 of its last 2 s. */
  playout_offset_ms: { p50: number; min: number; max: number; last: number; n: number };
  /** hls.latency (hls.js's estimate against its own live edge), p50, in s. */
  hlsjs_latency_s_p50: number;
  /** Burst onsets heard in WebAudio minus their send time, in ms. */
  latencies_ms: number[];
  errors: string[];
}

export interface BrowserResult {
  max_live_sync_playback_rate?: number;
  sessions?: BrowserSession[];
  listener_latency_ms?: { p50: number; max: number; n: number };
  playout_offset_ms_p50?: number;
  ttfa_ms?: number[];
  requests_per_s?: number;
  error?: string;
}

interface PageReport {
  navStart: number;
  playingAt: number | null;
  levelAt: number | null;
  edgeAgeMs: number | null;
  samples: [number, number, number][];
  onsets: number[];
  errors: string[];
}

const PLAYER_HTML = `<!doctype html><meta charset="utf-8"><title>bench player</title><body>
<script src="hls.min.js"></script>
<script>
const report = { navStart: performance.timeOrigin, playingAt: null, levelAt: null, edgeAgeMs: null, samples: [], onsets: [], errors: [] };
window.__bench = report;
const now = () => performance.timeOrigin + performance.now();
const audio = document.createElement('audio');
document.body.append(audio);
audio.addEventListener('playing', () => { if (report.playingAt === null) report.playingAt = now(); });
const hls = new Hls({ lowLatencyMode: true, liveSyncDuration: ${LIVE_SYNC_S}, maxLiveSyncPlaybackRate: ${MAX_RATE} });
// The first playlist: when it loaded and how old its live edge (end of its last part, by PDT) was then.
hls.on(Hls.Events.LEVEL_LOADED, (_event, data) => {
  if (report.levelAt !== null) return;
  report.levelAt = now();
  const parts = data.details.partList || [];
  const last = parts[parts.length - 1];
  if (last && last.fragment.programDateTime) report.edgeAgeMs = Date.now() - (last.fragment.programDateTime + (last.start - last.fragment.start + last.duration) * 1000);
});
hls.on(Hls.Events.ERROR, (_event, data) => report.errors.push(data.details + (data.fatal ? ' (fatal)' : '')));
hls.loadSource(new URLSearchParams(location.search).get('src'));
hls.attachMedia(audio);
audio.play().catch((error) => report.errors.push('play: ' + error));
setInterval(() => {
  const date = hls.playingDate;
  if (date && !audio.paused && audio.readyState > 2) report.samples.push([Date.now(), Date.now() - date.getTime(), hls.latency]);
}, 200);
// Burst onsets as they reach WebAudio: Goertzel at 1 kHz on each 512-sample block.
const context = new AudioContext();
const source = context.createMediaElementSource(audio);
const processor = context.createScriptProcessor(512, 1, 1);
let armed = true, quiet = 0;
processor.onaudioprocess = (event) => {
  const data = event.inputBuffer.getChannelData(0);
  const coeff = 2 * Math.cos((2 * Math.PI * 1000) / context.sampleRate);
  let s1 = 0, s2 = 0, total = 0;
  for (const v of data) { const s0 = v + coeff * s1 - s2; s2 = s1; s1 = s0; total += v * v; }
  const power = (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (data.length * data.length);
  const tone = power > 2.5e-5 && power > (total / data.length) * 0.1;
  if (tone) { quiet = 0; if (armed) { report.onsets.push(now()); armed = false; } }
  else if (++quiet >= 5) armed = true;
};
source.connect(processor);
processor.connect(context.destination);
context.resume();
</script>`;

export async function browserListeners(hlsBase: string, sentAt: number[], windowMs: number): Promise<BrowserResult> {
  const origin = new URL(hlsBase).origin;
  const src = `${hlsBase}/live.m3u8`;
  const browser = await launchChromium();
  try {
    const sessionMs = windowMs / SESSIONS_PER_PAGE - 2000;
    const pages = Array.from({ length: PAGES }, async (_, i) => {
      const results: BrowserSession[] = [];
      await sleep(1500 + i * 3700);
      for (let s = 0; s < SESSIONS_PER_PAGE; s++) {
        const page = await browser.newPage();
        try {
          results.push(await session(page, origin, src, sessionMs, sentAt));
        } finally {
          await page.close();
        }
        await sleep(700);
      }
      return results;
    });
    const sessions = (await Promise.all(pages)).flat();
    const latencies = sessions.flatMap((s) => s.latencies_ms).sort((a, b) => a - b);
    const offsets = sessions.map((s) => s.playout_offset_ms.p50).sort((a, b) => a - b);
    const requests = sessions.reduce((sum, s) => sum + s.requests_per_s * s.duration_s, 0);
    return {
      max_live_sync_playback_rate: MAX_RATE,
      listener_latency_ms: { p50: round(percentile(latencies, 50)), max: round(latencies[latencies.length - 1] ?? NaN), n: latencies.length },
      playout_offset_ms_p50: round(percentile(offsets, 50)),
      ttfa_ms: sessions.map((s) => round(s.ttfa_ms ?? NaN)),
      requests_per_s: round(requests / sessions.reduce((sum, s) => sum + s.duration_s, 0), 3),
      sessions,
    };
  } finally {
    await browser.close();
  }
}

async function session(page: Page, origin: string, src: string, stayMs: number, sentAt: number[]): Promise<BrowserSession> {
  const requests = { playlist: 0, blocking_playlist: 0, init: 0, part: 0, other: 0 };
  page.on('request', (request) => {
    const url = request.url();
    if (!url.includes('/hls/')) return;
    if (url.includes('/live.m3u8')) requests[url.includes('_HLS_msn=') ? 'blocking_playlist' : 'playlist']++;
    else if (url.includes('/part/')) requests.part++;
    else if (url.endsWith('/init.mp4')) requests.init++;
    else requests.other++;
  });
  await page.route(`${origin}/bench-player/**`, async (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path.endsWith('/hls.min.js')) return route.fulfill({ contentType: 'text/javascript', body: readFileSync(HLS_JS, 'utf8') });
    return route.fulfill({ contentType: 'text/html', body: PLAYER_HTML });
  });
  await page.goto(`${origin}/bench-player/index.html?src=${encodeURIComponent(src)}`);
  await sleep(stayMs);
  const report = (await page.evaluate('window.__bench')) as PageReport;
  const durationS = (Date.now() - report.navStart) / 1000;
  const offsets = report.samples.map((s) => s[1]).sort((a, b) => a - b);
  const hlsLatency = report.samples.map((s) => s[2]).sort((a, b) => a - b);
  // Each onset belongs to the send that best fits the offset seen at that moment (bursts are 2.3 s apart, so the last send before it may be the wrong one).
  const latencies: number[] = [];
  for (const onset of report.onsets) {
    const sample = report.samples.reduce<[number, number, number] | undefined>((best, s) => (!best || Math.abs(s[0] - onset) < Math.abs(best[0] - onset) ? s : best), undefined);
    if (!sample) continue;
    const expected = onset - sample[1] - 100; // roughly when it was sent: its PDT minus ~100 ms of capture
    let best: number | undefined;
    for (const sent of sentAt) if (best === undefined || Math.abs(sent - expected) < Math.abs(best - expected)) best = sent;
    if (best !== undefined && Math.abs(best - expected) < 600) latencies.push(round(onset - best));
  }
  const total = Object.values(requests).reduce((a, b) => a + b, 0);
  return {
    ttfa_ms: report.playingAt === null ? undefined : round(report.playingAt - report.navStart),
    join_edge_age_ms: report.edgeAgeMs === null ? undefined : round(report.edgeAgeMs),
    playlist_to_playing_ms: report.playingAt === null || report.levelAt === null ? undefined : round(report.playingAt - report.levelAt),
    model_offset_ms:
      report.playingAt === null || report.levelAt === null || report.edgeAgeMs === null ? undefined : round(LIVE_SYNC_S * 1000 + report.edgeAgeMs + report.playingAt - report.levelAt),
    requests,
    requests_per_s: round(total / durationS, 3),
    duration_s: round(durationS, 1),
    playout_offset_ms: {
      p50: round(percentile(offsets, 50)),
      min: round(offsets[0] ?? NaN),
      max: round(offsets[offsets.length - 1] ?? NaN),
      last: round(percentile(report.samples.slice(-10).map((s) => s[1]).sort((a, b) => a - b), 50)),
      n: offsets.length,
    },
    hlsjs_latency_s_p50: round(percentile(hlsLatency, 50), 3),
    latencies_ms: latencies,
    errors: report.errors.slice(0, 10),
  };
}
