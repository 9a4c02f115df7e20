/**
 * Test tones and their detection: sine generation and the Goertzel
 * algorithm (G. Goertzel, 1958), the power of one frequency in a block of
 * samples without a full FFT. Used by the speaker tool, the tests and the
 * benchmarks to prove which audio arrived where.
 */

/** Fills `out` with a sine of `hz` at `amplitude` (0..1 of full scale), continuing from `phase`; returns the next phase. */
export function fillSine(out: Int16Array, hz: number, sampleRate: number, amplitude: number, phase: number): number {
  const step = (2 * Math.PI * hz) / sampleRate;
  for (let i = 0; i < out.length; i++) {
    out[i] = Math.round(Math.sin(phase) * amplitude * 32767);
    phase += step;
  }
  return phase % (2 * Math.PI);
}

/** Power of `hz` in `samples`, normalised so a full-scale sine gives about 0.25 (amplitude²/4). */
export function goertzelPower(samples: ArrayLike<number>, hz: number, sampleRate: number, scale = 32768): number {
  const n = samples.length;
  if (n === 0) return 0;
  // The exact frequency, not the nearest DFT bin: on short blocks rounding
  // to a bin loses up to half the tone's power.
  const omega = (2 * Math.PI * hz) / sampleRate;
  const coeff = 2 * Math.cos(omega);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = (samples[i] ?? 0) / scale + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return power / (n * n);
}

/** Mean power of the block (amplitude²/2 for a sine). */
export function meanPower(samples: ArrayLike<number>, scale = 32768): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const v = (samples[i] ?? 0) / scale;
    sum += v * v;
  }
  return samples.length === 0 ? 0 : sum / samples.length;
}

/**
 * Whether a tone of `hz` is present: its Goertzel power must stand above an
 * absolute floor (about -40 dBFS) and hold a clear share of the block's
 * energy, so noise or another tone does not count.
 */
export function hasTone(samples: ArrayLike<number>, hz: number, sampleRate: number, scale = 32768): boolean {
  const tone = goertzelPower(samples, hz, sampleRate, scale);
  const total = meanPower(samples, scale);
  return tone > 2.5e-5 && tone > total * 0.1;
}
