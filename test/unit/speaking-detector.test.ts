import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpeakingDetector } from '../../src/sfu/speaking-detector.js';

/** RFC 6464 levels in -dBov: 0 is the loudest, 127 silence. */
const LOUD = 20;
const QUIET = 90;
/** One Opus packet every 20 ms. */
const PACKET_MS = 20;

/** Sends `count` packets at `level`, one every 20 ms from `startMs`; returns the time after the last. */
function talk(detector: SpeakingDetector, level: number, startMs: number, count: number): number {
  let nowMs = startMs;
  for (let i = 0; i < count; i++) {
    detector.addLevel(level, nowMs);
    nowMs += PACKET_MS;
  }
  return nowMs - PACKET_MS;
}

test('a new detector reports nobody talking', () => {
  assert.equal(new SpeakingDetector().isSpeaking(0), false);
});

test('three loud packets within 300 ms start talking', () => {
  const detector = new SpeakingDetector();
  detector.addLevel(LOUD, 0);
  detector.addLevel(LOUD, 20);
  assert.equal(detector.isSpeaking(20), false, 'two packets are not enough');
  detector.addLevel(LOUD, 40);
  assert.equal(detector.isSpeaking(40), true);
});

test('quiet packets never start talking however many arrive', () => {
  const detector = new SpeakingDetector();
  const lastMs = talk(detector, QUIET, 0, 200);
  assert.equal(detector.isSpeaking(lastMs), false);
});

test('a level equal to the threshold counts as loud and one just quieter does not', () => {
  const atThreshold = new SpeakingDetector({ thresholdDbov: 50 });
  talk(atThreshold, 50, 0, 3);
  assert.equal(atThreshold.isSpeaking(40), true);

  const justQuieter = new SpeakingDetector({ thresholdDbov: 50 });
  talk(justQuieter, 51, 0, 3);
  assert.equal(justQuieter.isSpeaking(40), false);
});

test('loud packets spread wider than the onset window do not start talking', () => {
  const detector = new SpeakingDetector();
  detector.addLevel(LOUD, 0);
  detector.addLevel(LOUD, 200);
  detector.addLevel(LOUD, 400);
  assert.equal(detector.isSpeaking(400), false, 'the packet at 0 ms is older than 300 ms at 400 ms');
});

test('the onset window includes a packet exactly windowMs old', () => {
  const inside = new SpeakingDetector();
  inside.addLevel(LOUD, 0);
  inside.addLevel(LOUD, 150);
  inside.addLevel(LOUD, 300);
  assert.equal(inside.isSpeaking(300), true);

  const outside = new SpeakingDetector();
  outside.addLevel(LOUD, 0);
  outside.addLevel(LOUD, 150);
  outside.addLevel(LOUD, 301);
  assert.equal(outside.isSpeaking(301), false);
});

test('talking holds through the 600 ms hangover and stops after it', () => {
  const detector = new SpeakingDetector();
  const lastLoudMs = talk(detector, LOUD, 0, 10);
  assert.equal(detector.isSpeaking(lastLoudMs + 300), true);
  assert.equal(detector.isSpeaking(lastLoudMs + 600), true, 'exactly the hangover still counts');
  assert.equal(detector.isSpeaking(lastLoudMs + 601), false);
});

test('quiet packets during the hangover do not extend it', () => {
  const detector = new SpeakingDetector();
  const lastLoudMs = talk(detector, LOUD, 0, 10);
  talk(detector, QUIET, lastLoudMs + PACKET_MS, 40);
  assert.equal(detector.isSpeaking(lastLoudMs + 601), false);
});

test('a short pause between words keeps the talker talking', () => {
  const detector = new SpeakingDetector();
  let nowMs = talk(detector, LOUD, 0, 20);
  nowMs = talk(detector, QUIET, nowMs + PACKET_MS, 15); // 300 ms breath
  assert.equal(detector.isSpeaking(nowMs), true);
  nowMs = talk(detector, LOUD, nowMs + PACKET_MS, 5);
  assert.equal(detector.isSpeaking(nowMs + 500), true);
});

test('after talking stopped, onset again needs three loud packets', () => {
  const detector = new SpeakingDetector();
  const lastLoudMs = talk(detector, LOUD, 0, 10);
  const laterMs = lastLoudMs + 2000;
  assert.equal(detector.isSpeaking(laterMs), false);
  detector.addLevel(LOUD, laterMs);
  assert.equal(detector.isSpeaking(laterMs), false, 'one click is not talking');
  detector.addLevel(LOUD, laterMs + 20);
  detector.addLevel(LOUD, laterMs + 40);
  assert.equal(detector.isSpeaking(laterMs + 40), true);
});

test('options change the threshold, onset count, onset window and hangover', () => {
  const detector = new SpeakingDetector({ thresholdDbov: 30, onsetPackets: 2, windowMs: 100, hangoverMs: 200 });
  detector.addLevel(40, 0);
  detector.addLevel(40, 20);
  assert.equal(detector.isSpeaking(20), false, '40 -dBov is quieter than a 30 -dBov threshold');
  detector.addLevel(30, 200);
  detector.addLevel(30, 300);
  assert.equal(detector.isSpeaking(300), true, 'two packets 100 ms apart are enough');
  assert.equal(detector.isSpeaking(500), true);
  assert.equal(detector.isSpeaking(501), false);
});

test('regression: one loud packet after a long silence does not restart talking when isSpeaking was not polled in between', () => {
  // StageRouter polls only unmuted members, so a member who was talking when
  // muted keeps `speaking` set; after unmute the first loud packet (a click,
  // a cough) made them "talking" at once, skipping the three-packet onset.
  const detector = new SpeakingDetector();
  talk(detector, LOUD, 0, 10);
  detector.addLevel(LOUD, 10_000);
  assert.equal(detector.isSpeaking(10_000), false);
});
