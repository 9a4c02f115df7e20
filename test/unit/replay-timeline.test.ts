import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatClock, reactionsPassed, spokenClock, stageIndexAt } from '../../src/web/replay/replay-timeline.js';
import type { ReplayTimeline } from '../../src/wire/replay.js';

const timeline: ReplayTimeline = {
  durationS: 60,
  stage: [0, 4.5, 10, 30].map((t) => ({ t, members: [], speaking: [] })),
  reactions: [
    { t: 2, counts: { '👏': 1 } },
    { t: 3, counts: { '🔥': 2 } },
    { t: 40, counts: { '❤️': 1 } },
  ],
};

test('the stage in force at a moment is the last mark at or before it', () => {
  assert.deepEqual(
    [0, 4.49, 4.5, 9.99, 10, 29, 30, 59.9].map((t) => stageIndexAt(timeline.stage, t)),
    [0, 0, 1, 1, 2, 2, 3, 3],
  );
  assert.equal(stageIndexAt(timeline.stage, -1), -1, 'before the first mark, none');
  assert.equal(stageIndexAt([], 5), -1);
});

test('reactions float as playback passes them, and not when a seek jumps over them', () => {
  assert.deepEqual(reactionsPassed(timeline, 1.8, 2.05).map((r) => r.t), [2]);
  assert.deepEqual(reactionsPassed(timeline, 2, 3).map((r) => r.t), [3], 'a reaction at the tick it was passed at floats once');
  assert.deepEqual(reactionsPassed(timeline, 0, 39.9), [], 'a seek forward releases nothing');
  assert.deepEqual(reactionsPassed(timeline, 40.2, 39.9), [], 'nor does a step backwards');
});

test('positions read as players show them, and in words for screen readers', () => {
  assert.deepEqual([0, 5.9, 65, 750, 3723].map(formatClock), ['0:00', '0:05', '1:05', '12:30', '1:02:03']);
  assert.equal(formatClock(Number.NaN), '0:00');
  assert.equal(spokenClock(65), '1 minute 5 seconds');
  assert.equal(spokenClock(0), '0 seconds');
  assert.equal(spokenClock(3601), '1 hour 1 second');
});
