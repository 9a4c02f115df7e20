/**
 * Which tones a page's <audio>/<video> element is playing, measured in the
 * page: the element's output goes through WebAudio (createMediaElementSource,
 * or element.captureStream()) into an AnalyserNode, and each 200 ms the
 * Goertzel power of every frequency is compared with the block's total
 * power (the logic of tonesInPage in browser.ts, for an element fed by MSE
 * rather than a WebRTC MediaStream).
 *
 * The page-side code defines no named inner functions: it is serialised by
 * playwright, and a transpiler's name helpers would not exist in the page.
 */
import type { Page } from 'playwright-core';

export interface ElementToneReport {
  /** Analysis blocks taken. */
  blocks: number;
  /** Per frequency, the blocks in which it was present. */
  hits: Record<number, number>;
  /** Blocks with (near) no signal at all. */
  silentBlocks: number;
  /** The element's currentTime at the start and the end of the listening. */
  currentTimeFrom: number;
  currentTimeTo: number;
  /** How the audio was tapped. */
  via: 'element-source' | 'capture-stream';
}

interface ProbeHost {
  __tribuneToneProbe?: { context: AudioContext; analyser: AnalyserNode; via: 'element-source' | 'capture-stream' };
}

/**
 * Taps the element matched by `selector` (once per page) and listens for
 * `listenMs`. `via` chooses the tap; 'element-source' also routes the audio
 * on to the speakers, as a listener would hear it.
 */
export async function tonesFromMediaElement(
  page: Page,
  selector: string,
  frequencies: number[],
  listenMs = 2000,
  via: 'element-source' | 'capture-stream' = 'element-source',
): Promise<ElementToneReport> {
  return page.evaluate(
    async ({ selector, frequencies, listenMs, via }) => {
      const host = window as unknown as ProbeHost;
      const element = document.querySelector(selector);
      if (!(element instanceof HTMLMediaElement)) throw new Error(`no media element matches ${selector}`);
      if (!host.__tribuneToneProbe) {
        const context = new AudioContext();
        const analyser = context.createAnalyser();
        analyser.fftSize = 8192;
        if (via === 'element-source') {
          const source = context.createMediaElementSource(element);
          source.connect(analyser);
          analyser.connect(context.destination);
        } else {
          const capture = (element as HTMLMediaElement & { captureStream(): MediaStream }).captureStream();
          context.createMediaStreamSource(capture).connect(analyser);
        }
        host.__tribuneToneProbe = { context, analyser, via };
      }
      const probe = host.__tribuneToneProbe;
      await probe.context.resume();
      const hits: Record<number, number> = {};
      for (const hz of frequencies) hits[hz] = 0;
      let blocks = 0;
      let silentBlocks = 0;
      const currentTimeFrom = element.currentTime;
      const data = new Float32Array(probe.analyser.fftSize);
      const deadline = performance.now() + listenMs;
      while (performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        probe.analyser.getFloatTimeDomainData(data);
        blocks++;
        let total = 0;
        for (const v of data) total += v * v;
        total /= data.length;
        if (total < 1e-6) silentBlocks++;
        for (const hz of frequencies) {
          const coeff = 2 * Math.cos((2 * Math.PI * hz) / probe.context.sampleRate);
          let s1 = 0;
          let s2 = 0;
          for (const v of data) {
            const s0 = v + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
          }
          const power = (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (data.length * data.length);
          if (power > 2.5e-5 && power > total * 0.1) hits[hz] = (hits[hz] ?? 0) + 1;
        }
      }
      return { blocks, hits, silentBlocks, currentTimeFrom, currentTimeTo: element.currentTime, via: probe.via };
    },
    { selector, frequencies, listenMs, via },
  );
}
