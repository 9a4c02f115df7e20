/**
 * The icecast.xml the Icecast fan-out benchmark (bench/fanout-icecast.ts)
 * runs with, and the stream settings it shares with the source and the
 * listeners.
 *
 * Buffering, chosen for low latency at Tribune's bitrate (Opus, mono,
 * 48 kHz, 32 kbit/s CBR, Ogg pages of 100 ms: 400 B of audio + 32 B of page
 * header, so 4,320 B/s on the wire; with 1 s pages, 4,077 B/s):
 * - burst-size 4,400 B (about 1 s): what a new listener gets at once from
 *   the queue. Icecast's default, 64 KB, is about 15 s of this stream; a
 *   player starting on it would play 15 s behind the source for good.
 * - queue-size 65,536 B (about 15 s): how far a listener may fall behind
 *   before Icecast drops it (the default, 512 KB, is about 2 minutes). It
 *   adds no latency to a listener that keeps up; the queue is shared by all
 *   listeners of the mount, so it costs 64 KB once, not per listener.
 */
export const SAMPLE_RATE = 48_000;
export const BITRATE_KBPS = 32;
/** Opus frame (packet) duration. */
export const FRAME_MS = 20;
/**
 * Audio per Ogg page (ffmpeg's -page_duration): 100 ms, or BENCH_ICECAST_PAGE_MS (a multiple of 20
 * up to 1000). ffmpeg's default, 1 s, adds a second of latency (its muxer holds a page until the next
 * is complete) but means one write per listener per second instead of ten.
 */
export const PAGE_MS = pageMsFromEnv();
/** Bytes per second on the wire: Opus CBR payload plus one 27 B header and 5 lacing bytes per page. */
export const WIRE_BYTES_PER_S = (BITRATE_KBPS * 1000) / 8 + (1000 / PAGE_MS) * (27 + PAGE_MS / FRAME_MS);
export const BURST_SIZE_BYTES = 4400;
export const QUEUE_SIZE_BYTES = 65_536;
export const MOUNT = '/live.opus';

function pageMsFromEnv(): number {
  const value = process.env.BENCH_ICECAST_PAGE_MS;
  if (value === undefined || value === '') return 100;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < FRAME_MS || ms > 1000 || ms % FRAME_MS !== 0) throw new Error(`BENCH_ICECAST_PAGE_MS must be a multiple of ${FRAME_MS} up to 1000, got ${value}`);
  return ms;
}

export interface IcecastConfigOptions {
  port: number;
  /** Listener limit; set above the run's listeners. */
  clients: number;
  sourcePassword: string;
  adminPassword: string;
  /** Holds the error log (and the pid file). */
  dir: string;
  /** Set when running as root: Icecast refuses to run as root without <changeowner>. */
  changeOwner?: { user: string; group: string };
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * icecast.xml for one run: loopback only, one mount, no YP, no file serving,
 * the error log at warn (the access log goes to /dev/null through a symlink
 * the caller makes, see ACCESS_LOG_NAME).
 */
export function renderIcecastXml(o: IcecastConfigOptions): string {
  const owner = o.changeOwner
    ? `  <security>
    <chroot>0</chroot>
    <changeowner><user>${escapeXml(o.changeOwner.user)}</user><group>${escapeXml(o.changeOwner.group)}</group></changeowner>
  </security>
`
    : `  <security><chroot>0</chroot></security>
`;
  return `<icecast>
  <location>loopback</location>
  <admin>bench@localhost</admin>
  <hostname>127.0.0.1</hostname>
  <limits>
    <clients>${o.clients}</clients>
    <sources>2</sources>
    <queue-size>${QUEUE_SIZE_BYTES}</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
    <burst-on-connect>1</burst-on-connect>
    <burst-size>${BURST_SIZE_BYTES}</burst-size>
  </limits>
  <authentication>
    <source-password>${escapeXml(o.sourcePassword)}</source-password>
    <relay-password>${escapeXml(o.adminPassword)}</relay-password>
    <admin-user>admin</admin-user>
    <admin-password>${escapeXml(o.adminPassword)}</admin-password>
  </authentication>
  <listen-socket>
    <port>${o.port}</port>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
  <mount type="normal">
    <mount-name>${MOUNT}</mount-name>
    <max-listeners>${o.clients}</max-listeners>
    <burst-size>${BURST_SIZE_BYTES}</burst-size>
    <queue-size>${QUEUE_SIZE_BYTES}</queue-size>
    <public>0</public>
  </mount>
  <fileserve>0</fileserve>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>${escapeXml(o.dir)}</logdir>
    <pidfile>${escapeXml(o.dir)}/icecast.pid</pidfile>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging>
    <accesslog>${ACCESS_LOG_NAME}</accesslog>
    <errorlog>${ERROR_LOG_NAME}</errorlog>
    <loglevel>2</loglevel>
    <logsize>10000</logsize>
  </logging>
${owner}</icecast>
`;
}

/** In the run's directory: a symlink to /dev/null, so the access log (a line per listener) never reaches the disk. */
export const ACCESS_LOG_NAME = 'access.log';
export const ERROR_LOG_NAME = 'error.log';
