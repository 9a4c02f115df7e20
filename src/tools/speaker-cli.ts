/**
 * `npm run speaker -- --space <Space link> --token <API token> (--wav <file> | --tone <hz> | --tones <hz:s,hz:s,...>) [--seconds <n>]`
 *
 * Joins a Space's stage from Node as a real WebRTC peer and plays the audio
 * in real time until interrupted (or for --seconds). The account behind the
 * API token needs a seat: without one the bot asks to speak and waits for
 * a host or co-host to accept. WAV files of any rate or channel count are
 * converted to 48 kHz mono 16-bit.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import wavefile from 'wavefile';
import { backoffDelayMs } from '../client/backoff.js';
import { MAX_RETRIES } from '../client/retry.js';
import { SAMPLE_RATE, SpeakerBot, type AudioProgram } from './speaker-bot.js';
import { takeSeat } from './stage-seat.js';

const USAGE =
  'usage: npm run speaker -- --space <Space link> --token <API token> (--wav <file> | --tone <hz> | --tones <hz:s,hz:s,...>) [--seconds <n>]\n' +
  '       (or TRIBUNE_API_TOKEN in the environment instead of --token; create one with POST /api/tokens)';

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function readWav(path: string): Int16Array {
  const wav = new wavefile.WaveFile(readFileSync(path));
  wav.toBitDepth('16');
  wav.toSampleRate(SAMPLE_RATE);
  const fmt = wav.fmt as { numChannels: number };
  const channels = wav.getSamples(false, Int16Array) as unknown as Int16Array[] | Int16Array;
  if (fmt.numChannels === 1) return channels as Int16Array;
  // Down-mix to mono by averaging the channels.
  const list = channels as Int16Array[];
  const length = list[0]?.length ?? 0;
  const mono = new Int16Array(length);
  for (let i = 0; i < length; i++) {
    let sum = 0;
    for (const channel of list) sum += channel[i] ?? 0;
    mono[i] = Math.round(sum / list.length);
  }
  return mono;
}

/** --tones 440:2,0:1,660:2: hz:seconds steps, looped; hz 0 is silence. */
function parseTones(text: string): { hz: number; seconds: number }[] {
  const steps = text.split(',').map((step) => {
    const [hz, seconds] = step.split(':').map(Number);
    if (hz === undefined || seconds === undefined || !Number.isFinite(hz) || !Number.isFinite(seconds)) fail(`--tones: "${step}" is not hz:seconds`);
    if (hz !== 0 && (hz < 20 || hz > 20_000)) fail('--tones: each frequency is 0 (silence) or 20 to 20000 Hz');
    if (seconds <= 0 || seconds > 3600) fail('--tones: each step lasts more than 0 and at most 3600 s');
    return { hz, seconds };
  });
  if (steps.length === 0 || steps.length > 100) fail('--tones takes 1 to 100 steps');
  return steps;
}

const { values } = parseArgs({
  options: {
    space: { type: 'string' },
    token: { type: 'string' },
    wav: { type: 'string' },
    tone: { type: 'string' },
    tones: { type: 'string' },
    name: { type: 'string', default: 'Speaker bot' },
    seconds: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!values.space) fail('--space is required');
const apiToken = values.token ?? process.env.TRIBUNE_API_TOKEN;
if (!apiToken) fail('--token (or TRIBUNE_API_TOKEN) is required');
if ([values.wav, values.tone, values.tones].filter((v) => v !== undefined).length !== 1) fail('give exactly one of --wav, --tone and --tones');

let program: AudioProgram;
if (values.tones !== undefined) {
  program = { kind: 'sequence', steps: parseTones(values.tones) };
} else if (values.tone !== undefined) {
  const hz = Number(values.tone);
  if (!Number.isFinite(hz) || hz < 20 || hz > 20_000) fail('--tone takes a frequency in Hz, 20 to 20000');
  program = { kind: 'tone', hz };
} else {
  program = { kind: 'pcm', samples: readWav(values.wav ?? ''), loop: true };
}

const playing = values.tones ?? (values.tone !== undefined ? `${values.tone} Hz` : values.wav);
/** Closes that are someone's decision (or the end): the tool does not come back after them. */
const FINAL = new Set(['LEFT', 'STEPPED_DOWN', 'MOVED_TO_AUDIENCE', 'BLOCKED', 'REPLACED', 'SPACE_ENDED']);
let bot: SpeakerBot | undefined;
let rejoins = 0;

/** Takes a seat with a fresh stage pass and plays; a dropped connection comes back the same way (at most three times in a row, jittered). */
async function goOnStage(): Promise<void> {
  let socketUrl: string;
  try {
    socketUrl = await takeSeat({ spaceLink: values.space ?? '', apiToken: apiToken ?? '', onWaiting: () => console.log('asked to speak; waiting for a host to accept') });
  } catch (error) {
    fail(`could not get a seat: ${error instanceof Error ? error.message : String(error)}`);
  }
  const current = new SpeakerBot({ spaceUrl: socketUrl, name: values.name ?? 'Speaker bot', program });
  bot = current;
  current.session.on('ended', () => {
    console.log('the Space ended');
    current.stop();
    process.exit(0);
  });
  current.session.on('serverError', (code, message) => console.error(`server: ${code}: ${message}`));
  current.session.on('closed', (code, reason) => {
    if (bot !== current) return;
    current.stop();
    if (FINAL.has(reason)) {
      console.log(`left the stage: ${reason}`);
      process.exit(0);
    }
    if (rejoins >= MAX_RETRIES) fail(`the stage connection dropped (${code} ${reason}) ${MAX_RETRIES} times in a row`);
    const waitMs = backoffDelayMs(rejoins++, 1000, 8000);
    console.error(`the stage connection dropped (${code} ${reason}); rejoining in ${waitMs} ms`);
    setTimeout(() => void goOnStage(), waitMs);
  });
  try {
    await current.start();
    await current.connected();
  } catch (error) {
    current.stop();
    fail(`could not join: ${error instanceof Error ? error.message : String(error)}`);
  }
  rejoins = 0;
  console.log(`on stage as "${current.session.me?.name ?? values.name}", playing ${playing}; Ctrl-C to leave`);
}

await goOnStage();

const leave = (): void => {
  bot?.session.leave();
  bot?.stop();
  process.exit(0);
};
process.on('SIGINT', leave);
process.on('SIGTERM', leave);
if (values.seconds !== undefined) setTimeout(leave, Number(values.seconds) * 1000);
