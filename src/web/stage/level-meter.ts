/** A level meter of the local microphone, so people see that they are heard. */
export function levelMeter(stream: MediaStream, bar: HTMLElement): () => void {
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  context.createMediaStreamSource(stream).connect(analyser);
  const data = new Float32Array(analyser.fftSize);
  let frame = 0;
  const tick = (): void => {
    analyser.getFloatTimeDomainData(data);
    let peak = 0;
    for (const v of data) peak = Math.max(peak, Math.abs(v));
    bar.style.width = `${Math.min(100, Math.round(peak * 140))}%`;
    frame = requestAnimationFrame(tick);
  };
  tick();
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    cancelAnimationFrame(frame);
    void context.close();
  };
}
