// The studio's level detector, on the audio thread (an AudioWorkletProcessor with no outputs, so the
// graph pulls it on every render quantum). Armed with a threshold, it reports the first quantum whose
// RMS passes it, with that quantum's context time: when a sound was made, not when a busy page got round
// to looking (an AnalyserNode polled from the main thread waits for the page).
class LevelDetector extends AudioWorkletProcessor {
  constructor() {
    super();
    this.threshold = null;
    this.port.onmessage = (e) => {
      this.threshold = e.data.threshold;
      this.port.postMessage({ armed: true, contextTime: currentTime });
    };
  }

  process(inputs) {
    const input = inputs[0];
    if (this.threshold != null && input && input.length) {
      let sum = 0;
      let n = 0;
      for (const ch of input) {
        for (let i = 0; i < ch.length; i++) sum += ch[i] * ch[i];
        n += ch.length;
      }
      const rms = Math.sqrt(sum / (n || 1));
      if (rms > this.threshold) {
        this.port.postMessage({ heard: true, contextTime: currentTime, rms });
        this.threshold = null;
      }
    }
    return true;
  }
}

registerProcessor('scripthammer-level', LevelDetector);
