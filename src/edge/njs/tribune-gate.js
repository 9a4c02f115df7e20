/*
 * The edge's gate (nginx njs 0.7): what an edge answers itself instead of
 * asking the origin. It runs only where nginx would otherwise go to the
 * origin: on a cache miss of a listener object (the front server proxies
 * misses to the gate's socket), and for API paths that name a Space or a clip.
 * Cache hits never run JavaScript.
 *
 * A junk request is one whose answer the edge can know without the origin:
 *
 * - An id the origin did not mint: public ids carry a tag, HMAC-SHA256 of
 *   their random part under the id key (src/store/public-ids.ts computes the
 *   same). A made-up id passes once in 2^20.
 * - An LL-HLS directive or a part/segment name out of the live window. The
 *   gate reads the live playlist from the edge's cache (refreshed at most once
 *   a second per Space) and answers as the origin would (RFC 8216bis
 *   §6.2.5.2): _HLS_msn more than two segments past the live edge is a 400; a
 *   part or segment already published is answered with the current playlist
 *   at once; a part or segment past the hinted next part, or behind the
 *   window, is a 404.
 * - A feed version older than the edge's copy, or one past the origin's clock:
 *   the origin would answer it at once with the current version, which the
 *   edge holds.
 * - A replay segment past the replay's end.
 *
 * Everything else goes to the origin (`@origin`), where it was going anyway.
 * The constants and error bodies come from the renderer
 * (src/edge/nginx-edge-config.ts) in $tribune_gate, base64 JSON, so this file
 * holds no copy of the catalogue.
 */

import crypto from 'crypto';

function settings(r) {
  var s = JSON.parse(Buffer.from(r.variables.tribune_gate, 'base64').toString());
  s.idKey = r.variables.tribune_id_key;
  return s;
}

/** The tag check of src/store/public-ids.ts. */
function genuine(id, s) {
  if (typeof id !== 'string' || id.length !== s.idRandom + s.idTag) return false;
  for (var i = 0; i < id.length; i++) if (s.alphabet.indexOf(id[i]) < 0) return false;
  var mac = crypto.createHmac('sha256', Buffer.from(s.idKey, 'hex')).update(id.slice(0, s.idRandom)).digest();
  var tag = '';
  for (var j = 0; j < s.idTag; j++) tag += s.alphabet[mac[j] % s.alphabet.length];
  // Not secret-dependent timing in any way that matters: the tag is public once minted.
  return tag === id.slice(s.idRandom);
}

function refuse(r, s, code, detail) {
  var error = s.errors[code];
  var body = { error: { code: code, message: error.message } };
  if (detail) body.error.details = detail;
  r.headersOut['Content-Type'] = 'application/json';
  r.headersOut['Cache-Control'] = 'no-store';
  r.headersOut['Access-Control-Allow-Origin'] = '*';
  r.return(error.status, JSON.stringify(body));
}

function refusePage(r, what) {
  r.headersOut['Content-Type'] = 'text/html; charset=utf-8';
  r.headersOut['Cache-Control'] = 'no-store';
  r.return(404, '<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width">' +
    '<title>Not found · Tribune</title><body style="font:16px system-ui;margin:3em auto;max-width:32em;padding:0 1em">' +
    '<h1>No such ' + what + '</h1><p>This link does not lead to a ' + what + ' on Tribune. Check that it was copied whole.</p>' +
    '<p><a href="/">Go to the Spaces that are live now</a></p>');
}

/** The newest part and the window of a live media playlist (the origin's rendering: src/hls/media-playlist.ts). */
function readPlaylist(text, parts) {
  var lines = text.split('\n');
  var first = 0;
  var segments = 0;
  var trailingParts = 0;
  var ended = false;
  for (var i = 0; i < lines.length; i++) {
    var line = lines[i];
    if (line.indexOf('#EXT-X-MEDIA-SEQUENCE:') === 0) first = Number(line.slice(22));
    else if (line.indexOf('#EXT-X-PART:') === 0) trailingParts++;
    else if (line.indexOf('#EXTINF:') === 0) {
      segments++;
      trailingParts = 0;
    } else if (line.indexOf('#EXT-X-ENDLIST') === 0) ended = true;
  }
  var head;
  if (trailingParts > 0) head = { msn: first + segments, part: trailingParts - 1 };
  else if (segments > 0) head = { msn: first + segments - 1, part: parts - 1 };
  return { first: first, complete: first + segments - 1, head: head, ended: ended };
}

function after(a, b) {
  return a.msn > b.msn || (a.msn === b.msn && a.part > b.part);
}

function nextPart(head, parts) {
  return head.part + 1 >= parts ? { msn: head.msn + 1, part: 0 } : { msn: head.msn, part: head.part + 1 };
}

function toOrigin(r) {
  r.internalRedirect('@origin');
}

/** Answers with the body the edge holds, as the origin would answer that request. */
function answerWith(r, reply, cacheControl) {
  r.headersOut['Content-Type'] = reply.headersOut['Content-Type'] || 'application/octet-stream';
  r.headersOut['Cache-Control'] = cacheControl;
  r.headersOut['Access-Control-Allow-Origin'] = '*';
  r.return(200, reply.responseText);
}

async function livePlaylistRequest(r, s, id, args) {
  var msnText = args._HLS_msn;
  var partText = args._HLS_part;
  if (msnText === undefined) {
    if (partText !== undefined) return refuse(r, s, 'HLS_PART_WITHOUT_MSN');
    return toOrigin(r);
  }
  var state = await r.subrequest('/__state/live/' + id);
  if (state.status !== 200) return toOrigin(r);
  var live = readPlaylist(state.responseText, s.parts);
  // §6.2.5.2: once the playlist has EXT-X-ENDLIST the directives are ignored.
  if (live.ended || !live.head) return toOrigin(r);
  var msn = Number(msnText);
  if (msn > live.head.msn + 2) return refuse(r, s, 'HLS_MSN_TOO_FAR', 'live edge is segment ' + live.head.msn);
  var part = partText === undefined ? s.parts - 1 : Number(partText);
  if (part > s.parts) return refuse(r, s, 'HLS_PART_TOO_FAR');
  var target = part === s.parts ? { msn: msn + 1, part: 0 } : { msn: msn, part: part };
  // Already published: the playlist the edge holds contains it; the origin would answer at once.
  // (A full playlist answers an _HLS_skip request too: a delta update is the server's option.)
  if (!after(target, live.head)) return answerWith(r, state, 'public, max-age=1');
  return toOrigin(r);
}

async function mediaRequest(r, s, id, kind, msn, part) {
  var state = await r.subrequest('/__state/live/' + id);
  if (state.status !== 200) return toOrigin(r);
  var live = readPlaylist(state.responseText, s.parts);
  // A listener a little behind may still ask for what just left the window: the origin judges those.
  if (msn < live.first - s.behindSegments) return refuse(r, s, 'HLS_NOT_FOUND');
  if (kind === 'seg') {
    if (msn > live.complete + 1) return refuse(r, s, 'HLS_NOT_FOUND');
    return toOrigin(r);
  }
  if (part >= s.parts) return refuse(r, s, 'HLS_NOT_FOUND');
  // The hinted next part is held at the origin (§6.2.6). The edge's copy of the
  // playlist may be a second or two old, so up to a segment past its newest part
  // is let through: a player's next part always is.
  if (live.head && !live.ended) {
    var limit = live.head;
    for (var i = 0; i < s.parts; i++) limit = nextPart(limit, s.parts);
    if (after({ msn: msn, part: part }, limit)) return refuse(r, s, 'HLS_NOT_FOUND');
  } else if (live.head && after({ msn: msn, part: part }, live.head)) return refuse(r, s, 'HLS_NOT_FOUND');
  return toOrigin(r);
}

function versionOf(reply) {
  try {
    var version = JSON.parse(reply.responseText).version;
    return typeof version === 'number' ? version : undefined;
  } catch (e) {
    return undefined;
  }
}

async function feedRequest(r, s, id, args) {
  if (args.v === undefined) return toOrigin(r);
  var asked = Number(args.v);
  var state = await r.subrequest('/__state/feed/' + id);
  var current = state.status === 200 ? versionOf(state) : undefined;
  if (current === undefined) return toOrigin(r);
  if (asked === current) return toOrigin(r);
  // An older version: the origin answers the current one at once, and so may we.
  if (asked < current) return answerWith(r, state, 'public, max-age=30');
  // Newer than the edge's copy: ask for a fresh one (at most once a second per Space).
  var fresh = await r.subrequest('/__state/feed-fresh/' + id);
  var latest = fresh.status === 200 ? versionOf(fresh) : undefined;
  if (latest === undefined || asked === latest) return toOrigin(r);
  if (asked < latest) return answerWith(r, fresh, 'public, max-age=30');
  // Still newer: even the fresh copy can be a second old, and a listener may hold a
  // version published since. Versions are the origin's clock in ms, so only one
  // past the clock (with room for the two clocks to differ) cannot exist yet; the
  // origin would answer it at once with its current version, and so may we. Anything
  // nearer goes to the origin: answering it from here could hand a listener a
  // version older than the one it has.
  if (asked <= Date.now() + s.feedAheadMs) return toOrigin(r);
  return answerWith(r, fresh, 'no-store');
}

async function replayRequest(r, s, id, file) {
  var segment = /^seg-([0-9]{1,12})\.m4s$/.exec(file);
  if (!segment) return toOrigin(r);
  var state = await r.subrequest('/__state/replay/' + id);
  if (state.status !== 200) return toOrigin(r);
  var count = 0;
  var lines = state.responseText.split('\n');
  for (var i = 0; i < lines.length; i++) if (lines[i].indexOf('#EXTINF:') === 0) count++;
  if (Number(segment[1]) >= count) return refuse(r, s, 'REPLAY_NOT_FOUND');
  return toOrigin(r);
}

/** js_content of the gate: a listener object the front does not have. */
async function listenerObject(r) {
  var s = settings(r);
  var uri = r.uri;
  var match;
  try {
    if ((match = /^\/hls\/([a-z2-9]+)\/(.+)$/.exec(uri))) {
      var id = match[1];
      var rest = match[2];
      if (!genuine(id, s)) return refuse(r, s, 'SPACE_NOT_FOUND');
      if (rest === 'live.m3u8') return await livePlaylistRequest(r, s, id, r.args);
      var numbered = /^(seg|part)\/([0-9]{1,9})(?:\.([0-9]{1,2}))?\.m4s$/.exec(rest);
      if (numbered) return await mediaRequest(r, s, id, numbered[1], Number(numbered[2]), numbered[3] === undefined ? 0 : Number(numbered[3]));
      return toOrigin(r);
    }
    if ((match = /^\/api\/spaces\/([a-z2-9]+)\/feed$/.exec(uri))) {
      if (!genuine(match[1], s)) return refuse(r, s, 'SPACE_NOT_FOUND');
      return await feedRequest(r, s, match[1], r.args);
    }
    if ((match = /^\/replay\/([a-z2-9]+)\/(.+)$/.exec(uri))) {
      if (!genuine(match[1], s)) return refuse(r, s, 'SPACE_NOT_FOUND');
      return await replayRequest(r, s, match[1], match[2]);
    }
    if ((match = /^\/clips\/([a-z2-9]+)\//.exec(uri))) {
      if (!genuine(match[1], s)) return refuse(r, s, 'CLIP_NOT_FOUND');
      return toOrigin(r);
    }
    if ((match = /^\/(s|c)\/([a-z2-9]+)$/.exec(uri))) {
      if (!genuine(match[2], s)) return refusePage(r, match[1] === 's' ? 'Space' : 'clip');
      return toOrigin(r);
    }
    return toOrigin(r);
  } catch (e) {
    // The gate must never be why a listener gets nothing: when in doubt, ask the origin.
    r.error('tribune gate: ' + e);
    return toOrigin(r);
  }
}

/** js_set for API locations: "1" when the id in the path ($tribune_id) was minted by the origin. */
function idGenuine(r) {
  return genuine(r.variables.tribune_id, settings(r)) ? '1' : '';
}

export default { listenerObject: listenerObject, idGenuine: idGenuine };
