/**
 * The origin's audience routes: playlists with blocking reload, the init
 * segment, parts and segments (RFC 8216bis §6.2). Every answer is the same
 * for every listener of a Space and says how long caches may keep it:
 * parts, segments and init are immutable; playlists live about one part.
 *
 *   GET /hls/:id/master.m3u8                    multivariant playlist
 *   GET /hls/:id/live.m3u8[?_HLS_msn&_HLS_part&_HLS_skip]
 *   GET /hls/:id/init.mp4
 *   GET /hls/:id/seg/:msn.m4s
 *   GET /hls/:id/part/:msn.:part.m4s            the hinted next part blocks
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { LiveStream } from '../hls/live-stream.js';
import { PARTS_PER_SEGMENT, TARGET_DURATION_S } from '../hls/hls-types.js';
import { renderMediaPlaylist, renderMultivariantPlaylist } from '../hls/media-playlist.js';
import { MIX_BITRATE } from '../mixer/opus-codec.js';
import { TribuneError } from '../wire/errors.js';
import { PUBLIC_ID_SOURCE } from '../wire/public-id.js';
import { parseHlsDirectives, reached } from './hls-query.js';
import { PartWaiters } from './part-waiters.js';

export interface HlsRouteDeps {
  /** The live stream of a Space, or undefined when there is no such Space. */
  streamOf(spaceId: string): LiveStream | undefined;
}

const MAX_HOLD_MS = 3 * TARGET_DURATION_S * 1000;
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** About one part: RFC 8216bis §6.2.5.2 wants blocking answers cacheable, and a listener reloads once a part. */
const PLAYLIST_LIVE = 'public, max-age=1';
const PLAYLIST_ENDED = 'public, max-age=60';
const MPEGURL = 'application/vnd.apple.mpegurl';
const SPACE_ID = new RegExp(`^${PUBLIC_ID_SOURCE}$`);

/** Per-stream origin state: the coalesced waits and the playlists rendered for the current version. */
interface StreamOrigin {
  waiters: PartWaiters;
  rendered: { version: number; full: string; skipped: string } | undefined;
}

export async function hlsRoutes(app: FastifyInstance, deps: HlsRouteDeps): Promise<void> {
  const origins = new WeakMap<LiveStream, StreamOrigin>();

  const originOf = (spaceId: string): { stream: LiveStream; origin: StreamOrigin } => {
    if (!SPACE_ID.test(spaceId)) throw new TribuneError('VALIDATION_FAILED', 'params/id must be a Space id');
    const stream = deps.streamOf(spaceId);
    if (!stream) throw new TribuneError('SPACE_NOT_FOUND');
    let origin = origins.get(stream);
    if (!origin) {
      origin = { waiters: new PartWaiters(stream, MAX_HOLD_MS), rendered: undefined };
      origins.set(stream, origin);
    }
    return { stream, origin };
  };

  /** One render per playlist version and form, however many listeners ask. */
  const playlist = (stream: LiveStream, origin: StreamOrigin, skip: boolean): string => {
    if (origin.rendered?.version !== stream.version) {
      const snapshot = { segments: stream.segments, ended: stream.ended, marks: stream.stateMarks() };
      origin.rendered = { version: stream.version, full: renderMediaPlaylist(snapshot), skipped: renderMediaPlaylist(snapshot, { skip: true }) };
    }
    return skip ? origin.rendered.skipped : origin.rendered.full;
  };

  app.addHook('onSend', async (request, reply) => {
    // CORS: players on other origins (embeds, other front ends) may play.
    if (request.url.startsWith('/hls/')) void reply.header('access-control-allow-origin', '*');
  });

  const doc = (summary: string, description: string, params: Record<string, unknown> = {}) => ({
    schema: {
      summary,
      description,
      tags: ['audience'],
      params: { type: 'object', properties: { id: { type: 'string', pattern: SPACE_ID.source }, ...params }, required: ['id', ...Object.keys(params)] },
    },
  });

  app.get<{ Params: { id: string } }>('/hls/:id/master.m3u8', doc('Multivariant playlist', 'One audio-only Opus rendition (RFC 8216bis §4.4.6).'), async (request, reply) => {
    originOf(request.params.id);
    return reply.type(MPEGURL).header('cache-control', PLAYLIST_ENDED).send(renderMultivariantPlaylist(MIX_BITRATE));
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>('/hls/:id/live.m3u8',
    doc(
      'LL-HLS media playlist, with blocking reload',
      'Query directives `_HLS_msn`, `_HLS_part` and `_HLS_skip=YES|v2` (RFC 8216bis §6.2.5); every other query parameter is ignored. ' +
        'A request for a part that does not exist yet is held until it does, at most 12 s (then 503 HLS_HOLD_TIMEOUT). Cacheable for 1 s.',
    ),
    async (request, reply) => {
    const { stream, origin } = originOf(request.params.id);
    // §6.2.5.2: once the playlist has EXT-X-ENDLIST the directives MUST be ignored.
    const directives = stream.ended ? { target: undefined, wholeSegment: false, skip: false } : parseHlsDirectives(request.query, stream.head);
    // A plain request before the first part also waits for it.
    const target = directives.target ?? (stream.head ? undefined : { msn: 0, part: 0 });
    if (target && !(await origin.waiters.wait(target))) return holdTimeout(reply);
    if (!stream.head) return holdTimeout(reply);
    return reply
      .type(MPEGURL)
      .header('cache-control', stream.ended ? PLAYLIST_ENDED : PLAYLIST_LIVE)
      .send(playlist(stream, origin, directives.skip));
  });

  app.get<{ Params: { id: string } }>('/hls/:id/init.mp4', doc('CMAF init segment', 'ftyp + moov with the Opus sample entry. Immutable.'), async (request, reply) => {
    const { stream, origin } = originOf(request.params.id);
    if (!stream.init && !(await origin.waiters.wait({ msn: 0, part: 0 }))) return holdTimeout(reply);
    if (!stream.init) throw new TribuneError('HLS_NOT_FOUND');
    return reply.type('audio/mp4').header('cache-control', IMMUTABLE).send(view(stream.init));
  });

  app.get<{ Params: { id: string; msn: string } }>('/hls/:id/seg/:msn', doc('A complete segment', '`<msn>.m4s`: the segment\'s parts, concatenated. Immutable.', { msn: { type: 'string' } }), async (request, reply) => {
    const { stream } = originOf(request.params.id);
    const msn = parseNumbered(request.params.msn, /^(\d{1,9})\.m4s$/)[0];
    const segment = stream.segment(msn);
    if (!segment?.complete || !segment.bytes) return notFound(reply);
    return reply.type('audio/mp4').header('cache-control', IMMUTABLE).send(view(segment.bytes));
  });

  app.get<{ Params: { id: string; name: string } }>('/hls/:id/part/:name',
    doc('A part', '`<msn>.<index>.m4s`: one CMAF fragment. The hinted next part is held until it exists (RFC 8216bis §6.2.6). Immutable.', {
      name: { type: 'string' },
    }),
    async (request, reply) => {
    const { stream, origin } = originOf(request.params.id);
    const [msn, index] = parseNumbered(request.params.name, /^(\d{1,9})\.(\d{1,2})\.m4s$/);
    if (index === undefined || index >= PARTS_PER_SEGMENT) return notFound(reply);
    const target = { msn, part: index };
    if (!reached(stream.head, target)) {
      // Only the hinted next part may be asked for before it exists (§6.2.6); anything further is a 404.
      if (!isNextPart(stream, target)) return notFound(reply);
      if (!(await origin.waiters.wait(target))) return holdTimeout(reply);
    }
    const part = stream.segment(msn)?.parts[index];
    if (!part) return notFound(reply);
    return reply.type('audio/mp4').header('cache-control', IMMUTABLE).send(view(part.bytes));
  });
}

/** The bytes as a Buffer without copying them: every listener request gets the same memory. */
function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function isNextPart(stream: LiveStream, target: { msn: number; part: number }): boolean {
  const head = stream.head;
  if (stream.ended) return false;
  if (!head) return target.msn === 0 && target.part === 0;
  const next = head.part + 1 >= PARTS_PER_SEGMENT ? { msn: head.msn + 1, part: 0 } : { msn: head.msn, part: head.part + 1 };
  return next.msn === target.msn && next.part === target.part;
}

function parseNumbered(name: string, pattern: RegExp): [number, number | undefined] {
  const match = pattern.exec(name);
  if (!match) throw new TribuneError('HLS_NOT_FOUND');
  return [Number(match[1]), match[2] === undefined ? undefined : Number(match[2])];
}

function notFound(reply: FastifyReply): FastifyReply {
  // Not cached: the part may exist a moment later at an edge's next try.
  return reply.code(404).header('cache-control', 'no-store').send(new TribuneError('HLS_NOT_FOUND').toBody());
}

function holdTimeout(reply: FastifyReply): FastifyReply {
  return reply
    .code(503)
    .header('cache-control', 'no-store')
    .header('retry-after', '1')
    .send(new TribuneError('HLS_HOLD_TIMEOUT').toBody());
}
