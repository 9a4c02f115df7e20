import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkBlock, checkMute, checkRoleChange, checkSeat, isModerator, type Place, type RoleLimits, type StageCounts } from '../../src/control/stage-rules.js';

const PLACES: Place[] = ['host', 'cohost', 'speaker', 'listener'];
const LIMITS: RoleLimits = { maxCohosts: 2, maxSpeakers: 10 };
const ROOM: StageCounts = { cohosts: 0, speakers: 0 };
const FULL: StageCounts = { cohosts: 2, speakers: 10 };

const ok = undefined;
type Expected = string | undefined;

/**
 * checkRoleChange: [actor, target, to, with room on stage, with every seat taken].
 * All 64 combinations, written out.
 */
const ROLE_CHANGES: [Place, Place, Place, Expected, Expected][] = [
  // The host moderates everyone but itself.
  ['host', 'host', 'host', 'CANNOT_MODERATE_HOST', 'CANNOT_MODERATE_HOST'],
  ['host', 'host', 'cohost', 'CANNOT_MODERATE_HOST', 'CANNOT_MODERATE_HOST'],
  ['host', 'host', 'speaker', 'CANNOT_MODERATE_HOST', 'CANNOT_MODERATE_HOST'],
  ['host', 'host', 'listener', 'CANNOT_MODERATE_HOST', 'CANNOT_MODERATE_HOST'],
  ['host', 'cohost', 'host', 'NOT_HOST', 'NOT_HOST'],
  ['host', 'cohost', 'cohost', ok, ok],
  ['host', 'cohost', 'speaker', ok, 'SPEAKER_LIMIT'],
  ['host', 'cohost', 'listener', ok, ok],
  ['host', 'speaker', 'host', 'NOT_HOST', 'NOT_HOST'],
  ['host', 'speaker', 'cohost', ok, 'COHOST_LIMIT'],
  ['host', 'speaker', 'speaker', ok, ok],
  ['host', 'speaker', 'listener', ok, ok],
  ['host', 'listener', 'host', 'NOT_ON_STAGE', 'NOT_ON_STAGE'],
  ['host', 'listener', 'cohost', 'NOT_ON_STAGE', 'NOT_ON_STAGE'],
  ['host', 'listener', 'speaker', 'NOT_ON_STAGE', 'NOT_ON_STAGE'],
  ['host', 'listener', 'listener', ok, ok],
  // A co-host moves speakers to the audience, and nothing else.
  ['cohost', 'host', 'host', 'CANNOT_MODERATE_HOST', 'CANNOT_MODERATE_HOST'],
  ['cohost', 'host', 'cohost', 'CANNOT_MODERATE_HOST', 'CANNOT_MODERATE_HOST'],
  ['cohost', 'host', 'speaker', 'CANNOT_MODERATE_HOST', 'CANNOT_MODERATE_HOST'],
  ['cohost', 'host', 'listener', 'CANNOT_MODERATE_HOST', 'CANNOT_MODERATE_HOST'],
  ['cohost', 'cohost', 'host', 'NOT_HOST', 'NOT_HOST'],
  ['cohost', 'cohost', 'cohost', ok, ok],
  ['cohost', 'cohost', 'speaker', 'NOT_HOST', 'NOT_HOST'],
  ['cohost', 'cohost', 'listener', 'NOT_HOST', 'NOT_HOST'],
  ['cohost', 'speaker', 'host', 'NOT_HOST', 'NOT_HOST'],
  ['cohost', 'speaker', 'cohost', 'NOT_HOST', 'NOT_HOST'],
  ['cohost', 'speaker', 'speaker', ok, ok],
  ['cohost', 'speaker', 'listener', ok, ok],
  ['cohost', 'listener', 'host', 'NOT_HOST', 'NOT_HOST'],
  ['cohost', 'listener', 'cohost', 'NOT_HOST', 'NOT_HOST'],
  ['cohost', 'listener', 'speaker', 'NOT_HOST', 'NOT_HOST'],
  ['cohost', 'listener', 'listener', ok, ok],
  // Speakers and listeners moderate nobody.
  ...(['speaker', 'listener'] as const).flatMap((actor) =>
    PLACES.flatMap((target) => PLACES.map((to): [Place, Place, Place, Expected, Expected] => [actor, target, to, 'NOT_MODERATOR', 'NOT_MODERATOR'])),
  ),
];

test('checkRoleChange: every actor × target × to, with room on stage and with every seat taken', () => {
  assert.equal(ROLE_CHANGES.length, 64);
  for (const [actor, target, to, withRoom, whenFull] of ROLE_CHANGES) {
    assert.equal(checkRoleChange(actor, target, to, ROOM, LIMITS), withRoom, `${actor} puts ${target} to ${to}, room`);
    assert.equal(checkRoleChange(actor, target, to, FULL, LIMITS), whenFull, `${actor} puts ${target} to ${to}, full`);
  }
});

test('checkRoleChange: the limits bite exactly at the configured numbers', () => {
  const limits = { maxCohosts: 3, maxSpeakers: 4 };
  assert.equal(checkRoleChange('host', 'speaker', 'cohost', { cohosts: 2, speakers: 0 }, limits), ok);
  assert.equal(checkRoleChange('host', 'speaker', 'cohost', { cohosts: 3, speakers: 0 }, limits), 'COHOST_LIMIT');
  assert.equal(checkRoleChange('host', 'cohost', 'speaker', { cohosts: 3, speakers: 3 }, limits), ok);
  assert.equal(checkRoleChange('host', 'cohost', 'speaker', { cohosts: 3, speakers: 4 }, limits), 'SPEAKER_LIMIT');
  // Only the count of the role moved to matters.
  assert.equal(checkRoleChange('host', 'speaker', 'cohost', { cohosts: 0, speakers: 4 }, limits), ok);
  assert.equal(checkRoleChange('host', 'cohost', 'speaker', { cohosts: 3, speakers: 0 }, limits), ok);
  // With no co-hosts allowed, nobody is promoted to one.
  assert.equal(checkRoleChange('host', 'speaker', 'cohost', { cohosts: 0, speakers: 1 }, { maxCohosts: 0, maxSpeakers: 10 }), 'COHOST_LIMIT');
  // Over a limit (the configuration shrank): still refused, and moving down to the audience still works.
  assert.equal(checkRoleChange('host', 'speaker', 'cohost', { cohosts: 5, speakers: 0 }, limits), 'COHOST_LIMIT');
  assert.equal(checkRoleChange('host', 'cohost', 'listener', { cohosts: 5, speakers: 9 }, limits), ok);
});

test('checkMute: only someone on stage is muted; anyone mutes themselves; moderators mute others but the host', () => {
  const table: [Place, Place, Expected][] = [
    ['host', 'host', 'CANNOT_MODERATE_HOST'],
    ['host', 'cohost', ok],
    ['host', 'speaker', ok],
    ['host', 'listener', 'NOT_ON_STAGE'],
    ['cohost', 'host', 'CANNOT_MODERATE_HOST'],
    ['cohost', 'cohost', ok],
    ['cohost', 'speaker', ok],
    ['cohost', 'listener', 'NOT_ON_STAGE'],
    ['speaker', 'host', 'NOT_MODERATOR'],
    ['speaker', 'cohost', 'NOT_MODERATOR'],
    ['speaker', 'speaker', 'NOT_MODERATOR'],
    ['speaker', 'listener', 'NOT_ON_STAGE'],
    ['listener', 'host', 'NOT_MODERATOR'],
    ['listener', 'cohost', 'NOT_MODERATOR'],
    ['listener', 'speaker', 'NOT_MODERATOR'],
    ['listener', 'listener', 'NOT_ON_STAGE'],
  ];
  for (const [actor, target, expected] of table) assert.equal(checkMute(actor, target, false), expected, `${actor} mutes ${target}`);
  for (const place of ['host', 'cohost', 'speaker'] as const) assert.equal(checkMute(place, place, true), ok, `a ${place} mutes itself`);
  assert.equal(checkMute('listener', 'listener', true), 'NOT_ON_STAGE');
});

test('checkBlock: moderators block, nobody blocks the host or themselves, only the host blocks a co-host', () => {
  const table: [Place, Place, Expected][] = [
    ['host', 'host', 'CANNOT_MODERATE_HOST'],
    ['host', 'cohost', ok],
    ['host', 'speaker', ok],
    ['host', 'listener', ok],
    ['cohost', 'host', 'CANNOT_MODERATE_HOST'],
    ['cohost', 'cohost', 'NOT_HOST'],
    ['cohost', 'speaker', ok],
    ['cohost', 'listener', ok],
    ...(['speaker', 'listener'] as const).flatMap((actor) => PLACES.map((target): [Place, Place, Expected] => [actor, target, 'NOT_MODERATOR'])),
  ];
  for (const [actor, target, expected] of table) assert.equal(checkBlock(actor, target, false), expected, `${actor} blocks ${target}`);
  assert.equal(checkBlock('host', 'host', true), 'CANNOT_MODERATE_HOST');
  assert.equal(checkBlock('cohost', 'cohost', true), 'CANNOT_MODERATE_HOST');
  assert.equal(checkBlock('speaker', 'speaker', true), 'NOT_MODERATOR');
  assert.equal(checkBlock('listener', 'listener', true), 'NOT_MODERATOR');
});

test('checkSeat: a seat while speakers plus open invitations are under the limit; an invitation already holds one', () => {
  assert.equal(checkSeat({ cohosts: 0, speakers: 9 }, LIMITS, false), ok);
  assert.equal(checkSeat({ cohosts: 0, speakers: 10 }, LIMITS, false), 'SPEAKER_LIMIT');
  assert.equal(checkSeat({ cohosts: 0, speakers: 11 }, LIMITS, false), 'SPEAKER_LIMIT');
  assert.equal(checkSeat({ cohosts: 0, speakers: 10 }, LIMITS, true), ok);
  assert.equal(checkSeat({ cohosts: 2, speakers: 0 }, { maxCohosts: 2, maxSpeakers: 0 }, false), 'SPEAKER_LIMIT');
});

test('isModerator: the host and co-hosts', () => {
  assert.deepEqual(
    PLACES.map((p) => isModerator(p)),
    [true, true, false, false],
  );
});

// ------------------------------------------------------------------ property

/**
 * A Space's stage as SpaceHub keeps it: one host, people with a place, open
 * invitations (each holds a speaker seat), and the operations of
 * src/control/space-hub.ts, each gated by the rule it uses there.
 */
interface Stage {
  places: Place[];
  invites: Set<number>;
}

type Action =
  | { kind: 'role'; actor: number; target: number; to: Place }
  | { kind: 'acceptRequest'; actor: number; target: number }
  | { kind: 'invite'; actor: number; target: number }
  | { kind: 'answerInvite'; target: number; accept: boolean }
  | { kind: 'stepDown'; target: number }
  | { kind: 'block'; actor: number; target: number };

function counts(stage: Stage): StageCounts {
  return {
    cohosts: stage.places.filter((p) => p === 'cohost').length,
    speakers: stage.places.filter((p) => p === 'speaker').length + stage.invites.size,
  };
}

/** Applies `action` if the rules allow it; true when it was applied. */
function apply(stage: Stage, action: Action, limits: RoleLimits): boolean {
  const place = (i: number): Place => stage.places[i] ?? 'listener';
  switch (action.kind) {
    case 'role': {
      // SpaceHub.setRole
      if (checkRoleChange(place(action.actor), place(action.target), action.to, counts(stage), limits)) return false;
      stage.places[action.target] = action.to;
      return true;
    }
    case 'acceptRequest': {
      // SpaceHub.answerRequest(accept): a moderator seats a listener who asked.
      if (!isModerator(place(action.actor)) || place(action.target) !== 'listener') return false;
      if (checkSeat(counts(stage), limits, false)) return false;
      stage.places[action.target] = 'speaker';
      return true;
    }
    case 'invite': {
      // SpaceHub.invite: the host, a listener not yet invited.
      if (place(action.actor) !== 'host' || place(action.target) !== 'listener' || stage.invites.has(action.target)) return false;
      if (checkSeat(counts(stage), limits, false)) return false;
      stage.invites.add(action.target);
      return true;
    }
    case 'answerInvite': {
      // SpaceHub.answerInvite: no check; the invitation held the seat.
      if (!stage.invites.has(action.target)) return false;
      if (action.accept) stage.places[action.target] = 'speaker';
      stage.invites.delete(action.target);
      return true;
    }
    case 'stepDown': {
      if (place(action.target) === 'host' || place(action.target) === 'listener') return false;
      stage.places[action.target] = 'listener';
      return true;
    }
    case 'block': {
      if (checkBlock(place(action.actor), place(action.target), action.actor === action.target)) return false;
      stage.places[action.target] = 'listener';
      stage.invites.delete(action.target);
      return true;
    }
  }
}

/** A legal starting stage: person 0 is the host, the rest within the limits. */
const legalStage = (people: number): fc.Arbitrary<{ limits: RoleLimits; stage: Stage }> =>
  fc
    .record({ maxCohosts: fc.integer({ min: 0, max: 3 }), maxSpeakers: fc.integer({ min: 0, max: 5 }) })
    .chain((limits) =>
      fc
        .record({
          cohosts: fc.integer({ min: 0, max: limits.maxCohosts }),
          speakers: fc.integer({ min: 0, max: limits.maxSpeakers }),
        })
        .chain(({ cohosts, speakers }) =>
          fc.integer({ min: 0, max: limits.maxSpeakers - speakers }).map((invited) => {
            const places: Place[] = ['host'];
            for (let i = 0; i < cohosts; i++) places.push('cohost');
            for (let i = 0; i < speakers; i++) places.push('speaker');
            while (places.length < people) places.push('listener');
            const invites = new Set<number>();
            for (let i = places.length - 1; invites.size < invited && i > 0; i--) if (places[i] === 'listener') invites.add(i);
            return { limits, stage: { places, invites } };
          }),
        ),
    );

const action = (people: number): fc.Arbitrary<Action> => {
  const who = fc.nat(people - 1);
  return fc.oneof(
    fc.record({ kind: fc.constant('role' as const), actor: who, target: who, to: fc.constantFrom<Place>(...PLACES) }),
    fc.record({ kind: fc.constant('acceptRequest' as const), actor: who, target: who }),
    fc.record({ kind: fc.constant('invite' as const), actor: who, target: who }),
    fc.record({ kind: fc.constant('answerInvite' as const), target: who, accept: fc.boolean() }),
    fc.record({ kind: fc.constant('stepDown' as const), target: who }),
    fc.record({ kind: fc.constant('block' as const), actor: who, target: who }),
  );
};

test('property: no sequence of allowed changes from a legal stage exceeds maxCohosts or maxSpeakers, or moves the host', () => {
  const people = 20;
  fc.assert(
    fc.property(legalStage(people), fc.array(action(people), { maxLength: 120 }), ({ limits, stage }, actions) => {
      for (const [i, a] of actions.entries()) {
        apply(stage, a, limits);
        const c = counts(stage);
        const seated = stage.places.filter((p) => p === 'speaker').length;
        assert.ok(c.cohosts <= limits.maxCohosts, `step ${i} (${JSON.stringify(a)}): ${c.cohosts} co-hosts > ${limits.maxCohosts}`);
        assert.ok(seated <= limits.maxSpeakers, `step ${i} (${JSON.stringify(a)}): ${seated} speakers > ${limits.maxSpeakers}`);
        assert.ok(c.speakers <= limits.maxSpeakers, `step ${i} (${JSON.stringify(a)}): speakers + invitations ${c.speakers} > ${limits.maxSpeakers}`);
        assert.equal(stage.places[0], 'host', 'the host stays the host');
        assert.equal(stage.places.filter((p) => p === 'host').length, 1, 'one host');
      }
    }),
    { numRuns: 1000 },
  );
});

test('property: the changes are not all refused (the model does move people around)', () => {
  const people = 8;
  let applied = 0;
  fc.assert(
    fc.property(legalStage(people), fc.array(action(people), { minLength: 50, maxLength: 50 }), ({ limits, stage }, actions) => {
      for (const a of actions) if (apply(stage, a, limits)) applied++;
    }),
    { numRuns: 100 },
  );
  assert.ok(applied > 100, `${applied} changes applied`);
});
