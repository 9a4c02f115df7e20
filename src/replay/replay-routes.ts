/**
 * Replays and clips over HTTP.
 *
 *   GET    /api/spaces/:id/replay        state, length and links of a Space's replay
 *   DELETE /api/spaces/:id/replay        the host deletes it (and its clips)
 *   GET    /replay/:id/playlist.m3u8     VOD playlist; init.mp4, seg-<msn>.m4s,
 *          /replay/:id/timeline.json     who was on stage and the reactions by replay time,
 *          /replay/:id/download.ogg      the whole conversation, remuxed (no re-encode)
 *   POST   /api/spaces/:id/clips         cut up to 30 s (signed in), live or after the end
 *   GET    /api/spaces/:id/clips, GET|DELETE /api/clips/:clipId
 *   GET    /clips/:clipId/playlist.m3u8  init.mp4, clip.m4s, clip.mp4 (one playable file)
 *
 * Media answers are the same for everyone and cacheable; they are not
 * immutable, because a host can delete a replay (docs/REPLAYS.md).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Auth } from '../accounts/auth.js';
import { accountView } from '../accounts/auth.js';
import { KeyedBuckets } from '../guard/keyed-buckets.js';
import type { AccountStore } from '../store/account-store.js';
import type { StoredSpace } from '../store/space-store.js';
import { API_LIMITS, ClipEnvelope, ClipList, ClipParams, CutClipBody, ErrorSchema, NoQuery, Ok, ReplayEnvelope, SpaceParams, type ClipView, type ReplayView } from '../wire/api.js';
import { TribuneError } from '../wire/errors.js';
import { parseRange, type ByteRange } from './byte-ranges.js';
import type { ReplayLibrary, StoredClipView } from './replay-library.js';

export interface ReplayRouteDeps {
  auth: Auth;
  accounts: AccountStore;
  library: ReplayLibrary;
  /** The stored Space; throws SPACE_NOT_FOUND. */
  space(id: string): Promise<StoredSpace>;
  /** Base URL for links. */
  base(request: { protocol: string; host: string }): string;
}

const MEDIA = 'public, max-age=3600';
const PLAYLIST = 'public, max-age=60';
const MPEGURL = 'application/vnd.apple.mpegurl';
const REPLAY_FILE = /^(playlist\.m3u8|init\.mp4|timeline\.json|download\.ogg|seg-(\d{1,12})\.m4s)$/;
const CLIP_FILE = /^(playlist\.m3u8|init\.mp4|clip\.m4s|clip\.mp4)$/;
/** Clips per account: 3 at once, then one per 10 s (each is a remux and a write). */
const CLIP_BURST = 3;
const CLIPS_PER_SECOND = 0.1;

export async function replayRoutes(app: FastifyInstance, deps: ReplayRouteDeps): Promise<void> {
  const { auth, accounts, library } = deps;
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['replays'];
  const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 410: ErrorSchema, 413: ErrorSchema, 429: ErrorSchema };
  const clipBuckets = new KeyedBuckets(CLIPS_PER_SECOND, CLIP_BURST, 10_000);

  const clipViews = async (base: string, clips: StoredClipView[]): Promise<ClipView[]> => {
    const authors = new Map((await accounts.byIds([...new Set(clips.map((c) => c.accountId))])).map((a) => [a.id, a]));
    const titles = new Map<string, string>();
    for (const spaceId of new Set(clips.map((c) => c.spaceId))) titles.set(spaceId, (await deps.space(spaceId)).title);
    return clips.map(({ accountId, ...clip }) => {
      const author = authors.get(accountId);
      return {
        ...clip,
        spaceTitle: titles.get(clip.spaceId) ?? '',
        by: author ? accountView(author) : null,
        links: { page: `${base}/c/${clip.id}`, playlist: `${base}/clips/${clip.id}/playlist.m3u8`, file: `${base}/clips/${clip.id}/clip.mp4` },
      };
    });
  };

  api.get(
    '/api/spaces/:id/replay',
    { schema: { summary: "A Space's replay: its state, length and links", tags, params: SpaceParams, querystring: NoQuery, response: { 200: ReplayEnvelope, ...errors } } },
    async (request, reply) => {
      const space = await deps.space(request.params.id);
      if (!space.recorded) throw new TribuneError('NOT_RECORDED');
      const recording = await library.status(space.id);
      if (!recording) throw new TribuneError('REPLAY_NOT_READY');
      const durationS = (recording.state === 'recording' ? await library.recordedSoFarS(space.id) : undefined) ?? recording.durationMs / 1000;
      const base = `${deps.base(request)}/replay/${space.id}`;
      const view: ReplayView = {
        state: recording.state,
        durationS: Math.round(durationS * 1000) / 1000,
        mediaStartedAt: recording.mediaStartMs === null ? null : new Date(recording.mediaStartMs).toISOString(),
        endedAt: recording.endedAtMs === null ? null : new Date(recording.endedAtMs).toISOString(),
        expiresAt: recording.expiresAtMs === null ? null : new Date(recording.expiresAtMs).toISOString(),
        lostParts: recording.lostParts,
        links: { playlist: `${base}/playlist.m3u8`, timeline: `${base}/timeline.json`, download: `${base}/download.ogg` },
      };
      void reply.header('cache-control', 'no-store');
      return { replay: view };
    },
  );

  api.delete(
    '/api/spaces/:id/replay',
    { schema: { summary: 'Delete the replay and its clips (host only)', tags, params: SpaceParams, response: { 200: Ok, ...errors } } },
    async (request) => {
      const account = await auth.require(request);
      const space = await deps.space(request.params.id);
      if (space.hostAccountId !== account.id) throw new TribuneError('NOT_HOST');
      if (!space.recorded) throw new TribuneError('NOT_RECORDED');
      await library.deleteReplay(space.id);
      return { ok: true as const };
    },
  );

  api.get(
    '/replay/:id/:file',
    { schema: { hide: true, params: Type.Object({ id: SpaceParams.properties.id, file: Type.String({ maxLength: 40 }) }), querystring: Type.Object({}) } },
    async (request, reply) => {
      const match = REPLAY_FILE.exec(request.params.file);
      if (!match) throw new TribuneError('REPLAY_NOT_FOUND');
      const space = await deps.space(request.params.id);
      if (!space.recorded) throw new TribuneError('NOT_RECORDED');
      const file = match[1];
      if (file === 'playlist.m3u8') return send(reply, PLAYLIST, MPEGURL, await library.playlist(space.id));
      if (file === 'init.mp4') return send(reply, MEDIA, 'video/mp4', await library.init(space.id));
      if (file === 'timeline.json') return send(reply, MEDIA, 'application/json', await library.timeline(space.id));
      if (file === 'download.ogg') {
        void reply.header('content-disposition', disposition('attachment', space.title, 'ogg'));
        return send(reply, MEDIA, 'audio/ogg', await library.download(space.id));
      }
      return send(reply, MEDIA, 'video/iso.segment', await library.segment(space.id, Number(match[2])));
    },
  );

  api.post(
    '/api/spaces/:id/clips',
    {
      bodyLimit: API_LIMITS.maxBodyBytes,
      schema: { summary: 'Cut a clip of up to 30 s (signed in)', description: 'Times are seconds from the start of the recording (GET …/replay gives its length).', tags, params: SpaceParams, body: CutClipBody, response: { 201: ClipEnvelope, ...errors } },
    },
    async (request, reply) => {
      const account = await auth.require(request);
      const space = await deps.space(request.params.id);
      if (!space.recorded) throw new TribuneError('NOT_RECORDED');
      const title = request.body.title?.trim() || space.title;
      // A request refused for its range costs nothing; only a cut that will run takes from the limit.
      const admit = (): void => {
        if (!clipBuckets.take(account.id, Date.now())) throw new TribuneError('CLIP_RATE_LIMITED');
      };
      const clip = await library.cut({ spaceId: space.id, accountId: account.id, title, startS: request.body.startS, endS: request.body.endS }, Date.now(), admit);
      const [view] = await clipViews(deps.base(request), [clip]);
      return reply.code(201).send({ clip: view as ClipView });
    },
  );

  api.get(
    '/api/spaces/:id/clips',
    { schema: { summary: "A Space's clips, newest first", tags, params: SpaceParams, querystring: NoQuery, response: { 200: ClipList, ...errors } } },
    async (request, reply) => {
      const space = await deps.space(request.params.id);
      void reply.header('cache-control', 'no-store');
      return { clips: await clipViews(deps.base(request), await library.clipsOf(space.id, 100)) };
    },
  );

  api.get(
    '/api/clips/:clipId',
    { schema: { summary: 'A clip', tags, params: ClipParams, querystring: NoQuery, response: { 200: ClipEnvelope, ...errors } } },
    async (request, reply) => {
      const [view] = await clipViews(deps.base(request), [await library.clip(request.params.clipId)]);
      void reply.header('cache-control', 'no-store');
      return { clip: view as ClipView };
    },
  );

  api.delete(
    '/api/clips/:clipId',
    { schema: { summary: 'Delete a clip (whoever cut it, or the host)', tags, params: ClipParams, response: { 200: Ok, ...errors } } },
    async (request) => {
      const account = await auth.require(request);
      const clip = await library.clip(request.params.clipId);
      const space = await deps.space(clip.spaceId);
      if (clip.accountId !== account.id && space.hostAccountId !== account.id) throw new TribuneError('NOT_CLIP_OWNER');
      await library.deleteClip(clip.id);
      return { ok: true as const };
    },
  );

  api.get(
    '/clips/:clipId/:file',
    { schema: { hide: true, params: Type.Object({ clipId: ClipParams.properties.clipId, file: Type.String({ maxLength: 40 }) }), querystring: Type.Object({}) } },
    async (request, reply) => {
      const file = CLIP_FILE.exec(request.params.file)?.[1];
      if (!file) throw new TribuneError('CLIP_NOT_FOUND');
      const id = request.params.clipId;
      if (file === 'playlist.m3u8') return send(reply, PLAYLIST, MPEGURL, await library.clipPlaylist(id));
      if (file === 'init.mp4') return send(reply, MEDIA, 'video/mp4', await library.clipMedia(id, 'init'));
      if (file === 'clip.m4s') return send(reply, MEDIA, 'video/iso.segment', await library.clipMedia(id, 'media'));
      const clip = await library.clip(id);
      void reply.header('content-disposition', disposition('inline', clip.title, 'mp4'));
      return send(reply, MEDIA, 'audio/mp4', await library.clipMedia(id, 'file'));
    },
  );
}

function send(reply: FastifyReply, cacheControl: string, type: string, body: string | Uint8Array): FastifyReply {
  void reply.header('cache-control', cacheControl).type(type);
  if (typeof body === 'string') return reply.send(body);
  void reply.header('accept-ranges', 'bytes');
  let range: ByteRange | undefined;
  try {
    range = parseRange(reply.request.headers.range, body.byteLength);
  } catch (error) {
    if (error instanceof TribuneError) void reply.header('content-range', `bytes */${body.byteLength}`);
    throw error;
  }
  if (!range) return reply.send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  return reply
    .code(206)
    .header('content-range', `bytes ${range.start}-${range.end}/${body.byteLength}`)
    .send(Buffer.from(body.buffer, body.byteOffset + range.start, range.end - range.start + 1));
}

/**
 * A title as a download name (RFC 6266 §4.3): an ASCII fallback, and the
 * title itself percent-encoded in filename* (RFC 8187), since header values
 * cannot carry it raw. Only letters, digits, spaces, _ and - survive.
 */
function disposition(kind: 'attachment' | 'inline', title: string, extension: string): string {
  const name = title.replace(/[^\p{L}\p{N} _-]+/gu, '').trim().slice(0, 80) || 'tribune';
  const ascii = name.replace(/[^A-Za-z0-9 _-]/g, '').trim() || 'tribune';
  return `${kind}; filename="${ascii}.${extension}"; filename*=UTF-8''${encodeURIComponent(`${name}.${extension}`)}`;
}
