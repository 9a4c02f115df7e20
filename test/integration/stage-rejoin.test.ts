/**
 * The speaker tool as people run it (`npm run speaker`, a process of its
 * own): when its stage connection drops for a reason that is nobody's
 * decision, it comes back on stage with a fresh stage pass, after a
 * jittered wait; when a host moves it to the audience, it stays down.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { MemberView } from '../../src/wire/signalling.js';
import { sleep, startTribune, waitFor, type RunningTribune, type TestSpace } from '../helpers/tribune.js';

const CLI = fileURLToPath(new URL('../../src/tools/speaker-cli.ts', import.meta.url));
let server: RunningTribune;
let space: TestSpace;
let tool: ChildProcess | undefined;
let output = '';

before(async () => {
  server = await startTribune();
  space = await server.createSpace('Rejoining');
});

after(async () => {
  tool?.kill('SIGKILL');
  await server?.close();
});

const members = (): MemberView[] => server.tribune.spaces.loaded(space.space.id)?.members() ?? [];

test('a dropped stage connection: the speaker tool is back on stage with a fresh pass; moved to the audience, it stays down', async () => {
  const speaker = await server.account('tool_speaker');
  const token = speaker.apiToken;
  // It asks to speak; the host accepts.
  tool = spawn(process.execPath, ['--import', 'tsx', CLI, '--space', `${server.url}/s/${space.space.id}`, '--token', token, '--tone', '440', '--name', 'Tool'], { stdio: ['ignore', 'pipe', 'pipe'] });
  tool.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  tool.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(() => output.includes('asked to speak'), 30_000, `the tool asks to speak: ${output}`);
  const accepted = await space.host.bot('POST', `/api/spaces/${space.space.id}/requests/${speaker.id}/accept`, {});
  assert.equal(accepted.status, 200);
  await waitFor(() => members().some((m) => m.accountId === speaker.id), 30_000, `the tool on stage: ${output}`);
  const first = members().find((m) => m.accountId === speaker.id)!.id;

  // The connection drops (as a failing peer connection closes it: 1011).
  server.tribune.spaces.loaded(space.space.id)?.stage?.memberOf(speaker.id)?.connection.close(1011, 'PEER_CONNECTION_FAILED');
  await waitFor(() => !members().some((m) => m.id === first), 10_000, 'the dropped member leaves the stage');
  await waitFor(() => members().some((m) => m.accountId === speaker.id && m.id !== first), 30_000, `the tool rejoins: ${output}`);
  assert.match(output, /dropped \(1011 PEER_CONNECTION_FAILED\); rejoining in \d+ ms/);

  // A host's decision is final.
  const moved = await space.host.bot('PUT', `/api/spaces/${space.space.id}/roles/${speaker.id}`, { role: 'listener' });
  assert.equal(moved.status, 200);
  await waitFor(() => tool?.exitCode !== null, 15_000, `the tool exits: ${output}`);
  assert.equal(tool.exitCode, 0);
  assert.match(output, /left the stage: MOVED_TO_AUDIENCE/);
  await sleep(500);
  assert.ok(!members().some((m) => m.accountId === speaker.id), 'and does not come back');
});
