/**
 * Debian's Chromium driven by playwright-core, with a fake microphone that
 * plays a generated tone. Each browser gets its own WAV, since the fake
 * capture file is a per-process flag.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import wavefile from 'wavefile';
import { fillSine } from '../../src/tools/tone.js';

export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'browser');

export function writeToneWav(hz: number, seconds = 10, amplitude = 0.3): string {
  const sampleRate = 48_000;
  const samples = new Int16Array(sampleRate * seconds);
  fillSine(samples, hz, sampleRate, amplitude, 0);
  const wav = new wavefile.WaveFile();
  wav.fromScratch(1, sampleRate, '16', samples);
  const path = join(tmpdir(), `tribune-tone-${hz}-${process.pid}.wav`);
  writeFileSync(path, wav.toBuffer());
  return path;
}

export async function launchChromium(fakeMicWav?: string): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      ...(fakeMicWav ? [`--use-file-for-fake-audio-capture=${fakeMicWav}`] : []),
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/**
 * Measures, in the page, which of `frequencies` are present in the audio
 * the page plays from its <audio> elements: a WebAudio analyser per element
 * and the Goertzel power against the block's total power.
 */
export async function tonesInPage(page: Page, frequencies: number[], listenMs = 1200): Promise<number[]> {
  return page.evaluate(
    async ({ frequencies, listenMs }) => {
      const context = new AudioContext();
      await context.resume();
      const analysers: AnalyserNode[] = [];
      for (const element of document.querySelectorAll('audio')) {
        const stream = element.srcObject;
        if (!(stream instanceof MediaStream) || stream.getAudioTracks().length === 0) continue;
        const analyser = context.createAnalyser();
        analyser.fftSize = 8192;
        context.createMediaStreamSource(stream).connect(analyser);
        analysers.push(analyser);
      }
      const found = new Set<number>();
      const deadline = performance.now() + listenMs;
      const data = new Float32Array(8192);
      while (performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        for (const analyser of analysers) {
          analyser.getFloatTimeDomainData(data);
          let total = 0;
          for (const v of data) total += v * v;
          total /= data.length;
          for (const hz of frequencies) {
            const coeff = 2 * Math.cos((2 * Math.PI * hz) / context.sampleRate);
            let s1 = 0;
            let s2 = 0;
            for (const v of data) {
              const s0 = v + coeff * s1 - s2;
              s2 = s1;
              s1 = s0;
            }
            const power = (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (data.length * data.length);
            if (power > 2.5e-5 && power > total * 0.1) found.add(hz);
          }
        }
      }
      await context.close();
      return [...found].sort((a, b) => a - b);
    },
    { frequencies, listenMs },
  );
}
