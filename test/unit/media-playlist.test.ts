/**
 * LL-HLS playlists (src/hls/media-playlist.ts) against hand-written
 * expectations, plus an independent reading of every playlist against the
 * rules of RFC 8216bis (test/helpers/ll-hls-rules.ts).
 *
 * Timeline of the fakes: segment n starts at T0 + 4 n s and part i of it
 * at T0 + 4 n + i s, with T0 = 2025-01-01T12:00:00.000Z.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PackagedPart } from '../../src/hls/cmaf-packager.js';
import { PARTS_PER_SEGMENT, PART_FRAMES, PLAYLIST_SEGMENTS, type HlsPart, type HlsSegment } from '../../src/hls/hls-types.js';
import { LiveStream, type StageState, type StateMark } from '../../src/hls/live-stream.js';
import { renderMediaPlaylist, renderMultivariantPlaylist, type PlaylistSnapshot } from '../../src/hls/media-playlist.js';
import { llHlsViolations, parseAttributes, readMediaPlaylist } from '../helpers/ll-hls-rules.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

const SPEAKING: StageState = { members: [{ id: 'a', accountId: 'adaada234567', username: 'ada', name: 'Ada', role: 'host', muted: false }], speaking: ['a'] };
const MUTED: StageState = { members: [{ id: 'a', accountId: 'adaada234567', username: 'ada', name: 'Ada', role: 'host', muted: true }], speaking: [] };
/** base64 of the JSON of SPEAKING and MUTED, worked out once by hand (node -e) and pasted. */
const SPEAKING_B64 = 'eyJtZW1iZXJzIjpbeyJpZCI6ImEiLCJhY2NvdW50SWQiOiJhZGFhZGEyMzQ1NjciLCJ1c2VybmFtZSI6ImFkYSIsIm5hbWUiOiJBZGEiLCJyb2xlIjoiaG9zdCIsIm11dGVkIjpmYWxzZX1dLCJzcGVha2luZyI6WyJhIl19';
const MUTED_B64 = 'eyJtZW1iZXJzIjpbeyJpZCI6ImEiLCJhY2NvdW50SWQiOiJhZGFhZGEyMzQ1NjciLCJ1c2VybmFtZSI6ImFkYSIsIm5hbWUiOiJBZGEiLCJyb2xlIjoiaG9zdCIsIm11dGVkIjp0cnVlfV0sInNwZWFraW5nIjpbXX0=';

/** A playlist written flush left in a template literal, without its leading newline. */
const playlist = (text: string): string => text.replace(/^\n/, '');

function fakePart(msn: number, index: number, durationS = 1): HlsPart {
  return { msn, index, durationS, bytes: new Uint8Array(0), wallClockMs: T0 + msn * 4000 + index * 1000 };
}

/** Segment `msn` with `parts` full parts (and a shorter last one, if given); complete when full or cut short. */
function fakeSegment(msn: number, parts = PARTS_PER_SEGMENT, lastPartS?: number): HlsSegment {
  const list = Array.from({ length: parts }, (_, i) => fakePart(msn, i));
  if (lastPartS !== undefined) list.push(fakePart(msn, parts, lastPartS));
  return { msn, parts: list, complete: list.length === PARTS_PER_SEGMENT || lastPartS !== undefined, wallClockMs: T0 + msn * 4000 };
}

/** Segments `from`..`to` complete, then one in progress with `partsInLast` parts (none: no segment). */
function fakeSegments(from: number, to: number, partsInLast = 0): HlsSegment[] {
  const out: HlsSegment[] = [];
  for (let msn = from; msn <= to; msn++) out.push(fakeSegment(msn));
  if (partsInLast > 0) out.push(fakeSegment(to + 1, partsInLast));
  return out;
}

const mark = (id: number, offsetMs: number, state: StageState): StateMark => ({ id, wallClockMs: T0 + offsetMs, state });
const snapshot = (segments: HlsSegment[], marks: StateMark[] = [], ended = false): PlaylistSnapshot => ({ segments, ended, marks });

/** Renders, checks the RFC 8216bis rules on the text, and returns it. */
function render(snap: PlaylistSnapshot, options: { skip?: boolean } = {}): string {
  const text = renderMediaPlaylist(snap, options);
  assert.deepEqual(llHlsViolations(text), [], `RFC 8216bis rules broken by:\n${text}`);
  return text;
}

const HEAD = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:4`;
const LIVE_CONTROL = `#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PART-INF:PART-TARGET=1.000
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=24.000,HOLD-BACK=12.000,PART-HOLD-BACK=3.000`;

test('a stream with one incomplete segment lists its parts and hints the next part', () => {
  const text = render(snapshot([fakeSegment(0, 2)]));
  assert.equal(
    text,
    playlist(`
${HEAD}
#EXT-X-MEDIA-SEQUENCE:0
${LIVE_CONTROL}
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:00.000Z
#EXT-X-PART:DURATION=1.000,URI="part/0.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/0.1.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/0.2.m4s"
`),
  );
});

test('complete segments get EXTINF, only the last three segments list parts, and the next part is hinted', () => {
  const text = render(snapshot(fakeSegments(0, 4, 2)));
  assert.equal(
    text,
    playlist(`
${HEAD}
#EXT-X-MEDIA-SEQUENCE:0
${LIVE_CONTROL}
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:00.000Z
#EXTINF:4.000,
seg/0.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:04.000Z
#EXTINF:4.000,
seg/1.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:08.000Z
#EXTINF:4.000,
seg/2.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:12.000Z
#EXT-X-PART:DURATION=1.000,URI="part/3.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/3.1.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/3.2.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/3.3.m4s",INDEPENDENT=YES
#EXTINF:4.000,
seg/3.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:16.000Z
#EXT-X-PART:DURATION=1.000,URI="part/4.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/4.1.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/4.2.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/4.3.m4s",INDEPENDENT=YES
#EXTINF:4.000,
seg/4.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:20.000Z
#EXT-X-PART:DURATION=1.000,URI="part/5.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/5.1.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/5.2.m4s"
`),
  );
});

test('when the last segment is complete the hint is part 0 of the next segment', () => {
  const text = render(snapshot(fakeSegments(0, 1)));
  assert.equal(
    text,
    playlist(`
${HEAD}
#EXT-X-MEDIA-SEQUENCE:0
${LIVE_CONTROL}
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:00.000Z
#EXT-X-PART:DURATION=1.000,URI="part/0.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/0.1.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/0.2.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/0.3.m4s",INDEPENDENT=YES
#EXTINF:4.000,
seg/0.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:04.000Z
#EXT-X-PART:DURATION=1.000,URI="part/1.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/1.1.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/1.2.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/1.3.m4s",INDEPENDENT=YES
#EXTINF:4.000,
seg/1.m4s
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/2.0.m4s"
`),
  );
});

test('only the last PLAYLIST_SEGMENTS segments are listed and MEDIA-SEQUENCE is the first listed', () => {
  // Segments 0..9 complete and 10 in progress: 11 retained, 10 listed (1..10).
  assert.equal(PLAYLIST_SEGMENTS, 10);
  const text = render(snapshot(fakeSegments(0, 9, 3)));
  assert.equal(
    text,
    playlist(`
${HEAD}
#EXT-X-MEDIA-SEQUENCE:1
${LIVE_CONTROL}
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:04.000Z
#EXTINF:4.000,
seg/1.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:08.000Z
#EXTINF:4.000,
seg/2.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:12.000Z
#EXTINF:4.000,
seg/3.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:16.000Z
#EXTINF:4.000,
seg/4.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:20.000Z
#EXTINF:4.000,
seg/5.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:24.000Z
#EXTINF:4.000,
seg/6.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:28.000Z
#EXTINF:4.000,
seg/7.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:32.000Z
#EXT-X-PART:DURATION=1.000,URI="part/8.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/8.1.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/8.2.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/8.3.m4s",INDEPENDENT=YES
#EXTINF:4.000,
seg/8.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:36.000Z
#EXT-X-PART:DURATION=1.000,URI="part/9.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/9.1.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/9.2.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/9.3.m4s",INDEPENDENT=YES
#EXTINF:4.000,
seg/9.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:40.000Z
#EXT-X-PART:DURATION=1.000,URI="part/10.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/10.1.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/10.2.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/10.3.m4s"
`),
  );
});

test('a delta update skips exactly the segments ending more than CAN-SKIP-UNTIL before the end, with their PROGRAM-DATE-TIME', () => {
  // Listed: 1..10, segment 10 with 2 parts, so the playlist ends at T0 + 42 s
  // and the skip boundary is T0 + 18 s: segments 1, 2, 3 end at 8, 12, 16 s
  // (skipped), segment 4 ends at 20 s (kept).
  const snap = snapshot(fakeSegments(0, 9, 2));
  const text = render(snap, { skip: true });
  assert.equal(
    text,
    playlist(`
${HEAD}
#EXT-X-MEDIA-SEQUENCE:1
${LIVE_CONTROL}
#EXT-X-SKIP:SKIPPED-SEGMENTS=3
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:16.000Z
#EXTINF:4.000,
seg/4.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:20.000Z
#EXTINF:4.000,
seg/5.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:24.000Z
#EXTINF:4.000,
seg/6.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:28.000Z
#EXTINF:4.000,
seg/7.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:32.000Z
#EXT-X-PART:DURATION=1.000,URI="part/8.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/8.1.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/8.2.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/8.3.m4s",INDEPENDENT=YES
#EXTINF:4.000,
seg/8.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:36.000Z
#EXT-X-PART:DURATION=1.000,URI="part/9.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/9.1.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/9.2.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/9.3.m4s",INDEPENDENT=YES
#EXTINF:4.000,
seg/9.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:40.000Z
#EXT-X-PART:DURATION=1.000,URI="part/10.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/10.1.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/10.2.m4s"
`),
  );
  // A client rebuilds the full playlist from the delta (§6.2.5.1): the
  // delta minus EXT-X-SKIP is the full playlist minus the skipped segments' lines.
  const full = render(snap).split('\n');
  const firstKept = full.indexOf('#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:16.000Z');
  const firstSegment = full.findIndex((line) => line.startsWith('#EXT-X-PROGRAM-DATE-TIME'));
  const rebuilt = [...full.slice(0, firstSegment), ...full.slice(firstKept)].join('\n');
  assert.equal(text.replace('#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n', ''), rebuilt);
});

test('a delta update does not skip the segment that ends exactly CAN-SKIP-UNTIL before the end', () => {
  // Regression pin (skip boundary off by one). Listed: 0..9, all complete,
  // the playlist ends at T0 + 40 s and the boundary is T0 + 16 s. Segments
  // 0, 1, 2 end at 4, 8, 12 s: more than 24 s before the end, skipped.
  // Segment 3 ends at 16 s, exactly 24 s before the end: not "more than"
  // (the renderer's own comment and the brief's rule), so it stays.
  const text = render(snapshot(fakeSegments(0, 9)), { skip: true });
  assert.equal(readMediaPlaylist(text).skippedSegments, 3, text);
  assert.ok(text.includes('#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:12.000Z\n#EXTINF:4.000,\nseg/3.m4s\n'));
});

test('a delta update of a short stream skips nothing and has no EXT-X-SKIP', () => {
  const snap = snapshot(fakeSegments(0, 4, 1));
  assert.equal(render(snap, { skip: true }), render(snap));
});

test('an ended stream has ENDLIST and no PART-INF, SERVER-CONTROL, parts or PRELOAD-HINT', () => {
  // Segment 2 ends the Space with a full part and a half one.
  const segments = [fakeSegment(0), fakeSegment(1), fakeSegment(2, 1, 0.5)];
  const text = renderMediaPlaylist(snapshot(segments, [], true));
  // RFC 8216bis §4.4.3.7: EXT-X-PART-INF is REQUIRED if the playlist has an
  // EXT-X-PART tag; an ended playlist without it must not list parts.
  assert.deepEqual(llHlsViolations(text), [], text);
  assert.equal(
    text,
    playlist(`
${HEAD}
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:00.000Z
#EXTINF:4.000,
seg/0.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:04.000Z
#EXTINF:4.000,
seg/1.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:08.000Z
#EXTINF:1.500,
seg/2.m4s
#EXT-X-ENDLIST
`),
  );
  assert.equal(renderMediaPlaylist(snapshot(segments, [], true), { skip: true }), text, 'no delta update of an ended stream');
});

test('stage state marks become EXT-X-DATERANGE tags with the state as base64 JSON', () => {
  // The mark in force when the stream starts (set before it), and two during it.
  const marks = [mark(1, -5000, SPEAKING), mark(2, 2500, MUTED), mark(3, 5000, SPEAKING)];
  const text = render(snapshot(fakeSegments(0, 0, 1), marks));
  assert.equal(
    text,
    playlist(`
${HEAD}
#EXT-X-MEDIA-SEQUENCE:0
${LIVE_CONTROL}
#EXT-X-DATERANGE:ID="stage-1",CLASS="org.tribune.stage",START-DATE="2025-01-01T11:59:55.000Z",X-STATE="${SPEAKING_B64}"
#EXT-X-DATERANGE:ID="stage-2",CLASS="org.tribune.stage",START-DATE="2025-01-01T12:00:02.500Z",X-STATE="${MUTED_B64}"
#EXT-X-DATERANGE:ID="stage-3",CLASS="org.tribune.stage",START-DATE="2025-01-01T12:00:05.000Z",X-STATE="${SPEAKING_B64}"
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:00.000Z
#EXT-X-PART:DURATION=1.000,URI="part/0.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/0.1.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/0.2.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=1.000,URI="part/0.3.m4s",INDEPENDENT=YES
#EXTINF:4.000,
seg/0.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T12:00:04.000Z
#EXT-X-PART:DURATION=1.000,URI="part/1.0.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/1.1.m4s"
`),
  );
  // Read back: the X-STATE of each range is the state, and every ID is unique.
  const ranges = text.split('\n').filter((line) => line.startsWith('#EXT-X-DATERANGE:')).map((line) => parseAttributes(line.slice('#EXT-X-DATERANGE:'.length)));
  assert.deepEqual(
    ranges.map((attributes) => JSON.parse(Buffer.from(attributes['X-STATE'] ?? '', 'base64').toString('utf8')) as unknown),
    [SPEAKING, MUTED, SPEAKING],
  );
  assert.equal(new Set(ranges.map((attributes) => attributes.ID)).size, 3);
});

/** The IDs of the EXT-X-DATERANGE tags in `text`. */
const rangeIds = (text: string): string[] => readMediaPlaylist(text).dateRangeIds;

test('only marks from the window start on are listed, plus the one in force at its start', () => {
  // Listed: segments 3..12 (window start T0 + 12 s).
  const segments = fakeSegments(2, 11, 1);
  const marks = [mark(1, 0, SPEAKING), mark(2, 5000, MUTED), mark(3, 11_000, SPEAKING), mark(4, 13_000, MUTED), mark(5, 20_000, SPEAKING)];
  assert.deepEqual(rangeIds(render(snapshot(segments, marks))), ['stage-3', 'stage-4', 'stage-5']);
  // A mark exactly at the window start is the one in force there.
  const atStart = [mark(1, 0, SPEAKING), mark(2, 12_000, MUTED), mark(3, 20_000, SPEAKING)];
  assert.deepEqual(rangeIds(render(snapshot(segments, atStart))), ['stage-2', 'stage-3']);
});

test('at most 8 marks are listed, the newest', () => {
  const segments = fakeSegments(2, 11, 1);
  const marks = [mark(1, 0, SPEAKING)];
  for (let id = 2; id <= 13; id++) marks.push(mark(id, 12_500 + id * 1000, id % 2 === 0 ? MUTED : SPEAKING));
  assert.deepEqual(rangeIds(render(snapshot(segments, marks))), ['stage-6', 'stage-7', 'stage-8', 'stage-9', 'stage-10', 'stage-11', 'stage-12', 'stage-13']);
});

test('a delta update keeps the EXT-X-DATERANGE tags of the full playlist', () => {
  // RFC 8216bis §4.4.3.8 / §4.4.5.2 / §6.2.5.1: only an _HLS_skip=v2 request
  // to a server that advertises CAN-SKIP-DATERANGES=YES may leave date
  // ranges out of a delta update (and then it lists them in
  // RECENTLY-REMOVED-DATERANGES). This server advertises no such thing,
  // so its delta updates carry the same date ranges as the full playlist.
  // Listed: 1..10, skipped: 1, 2, 3. Marks 2 and 3 fall in the skipped span.
  const snap = snapshot(fakeSegments(0, 9, 2), [mark(1, 0, SPEAKING), mark(2, 6000, MUTED), mark(3, 9000, SPEAKING), mark(4, 30_000, MUTED)]);
  const full = render(snap);
  assert.deepEqual(rangeIds(full), ['stage-1', 'stage-2', 'stage-3', 'stage-4']);
  assert.doesNotMatch(full, /CAN-SKIP-DATERANGES/);
  const delta = render(snap, { skip: true });
  assert.equal(readMediaPlaylist(delta).skippedSegments, 3);
  assert.deepEqual(rangeIds(delta), rangeIds(full));
});

test('every playlist of a live stream driven part by part keeps the RFC 8216bis rules', () => {
  const stream = new LiveStream();
  for (let sequence = 0; sequence < 70; sequence++) {
    const wallClockMs = T0 + sequence * 1000;
    if (sequence % 3 === 0) stream.markState(sequence % 2 === 0 ? SPEAKING : MUTED, wallClockMs + 200);
    const packaged: PackagedPart = { sequence, firstFrame: sequence * PART_FRAMES, frames: PART_FRAMES, bytes: new Uint8Array(0), wallClockMs };
    stream.appendPart(packaged);
    const snap = { segments: stream.segments, ended: stream.ended, marks: stream.stateMarks() };
    for (const skip of [false, true]) {
      const text = renderMediaPlaylist(snap, { skip });
      assert.deepEqual(llHlsViolations(text), [], `after part ${sequence}${skip ? ' (delta)' : ''}:\n${text}`);
      const facts = readMediaPlaylist(text);
      assert.ok(facts.dateRangeIds.length <= 8);
      assert.equal(facts.preloadHints, 1);
      const head = stream.head;
      assert.ok(head);
      // The hint is always the part after the head.
      const next = head.part === PARTS_PER_SEGMENT - 1 ? `part/${head.msn + 1}.0.m4s` : `part/${head.msn}.${head.part + 1}.m4s`;
      assert.ok(text.endsWith(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${next}"\n`), text);
    }
  }
});

test('the multivariant playlist has one Opus rendition with peak and average bandwidth', () => {
  assert.equal(
    renderMultivariantPlaylist(32_000),
    playlist(`
#EXTM3U
#EXT-X-VERSION:9
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=40000,AVERAGE-BANDWIDTH=35200,CODECS="opus"
live.m3u8
`),
  );
  // §4.4.6.2: BANDWIDTH is REQUIRED and is the peak, so never below AVERAGE-BANDWIDTH.
  const line = renderMultivariantPlaylist(32_000).split('\n').find((l) => l.startsWith('#EXT-X-STREAM-INF:')) ?? '';
  const attributes = parseAttributes(line.slice('#EXT-X-STREAM-INF:'.length));
  assert.ok(Number(attributes.BANDWIDTH) >= Number(attributes['AVERAGE-BANDWIDTH']));
});
