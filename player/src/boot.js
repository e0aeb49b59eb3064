// The fast start (dist/boot.js, a few hundred bytes gzip), loaded by the embed pages before the
// player bundle. With autoplay, it plays the start rung's fMP4 init segment and first segment
// (which the page preloads) through Media Source Extensions at once, then loads the player
// bundle; the player adopts the <audio> element, the MediaSource and its SourceBuffer, and hands
// them to hls.js (attachMedia with a transferred MediaSource), which goes on from the end of that
// buffer with adaptive bit rate. Without autoplay, or when anything here is not possible, it only
// loads the bundle, which then starts the usual way.
//
// <script src=".../boot.js" data-main=".../player.js" data-config="scripthammer-config" defer>
// config.fastStart: {track, level, init, segment, codecs, duration}
(() => {
  const me = document.currentScript;
  const mainUrl = me && me.getAttribute('data-main');
  let mainLoaded = false;
  const loadMain = () => {
    if (mainLoaded || !mainUrl) return;
    mainLoaded = true;
    const s = document.createElement('script');
    s.src = mainUrl;
    document.head.appendChild(s);
  };
  const mark = (name) => { try { performance.mark(`shp:boot-${name}`); } catch { /* no marks */ } };

  let cfg = null;
  try { cfg = JSON.parse(document.getElementById((me && me.getAttribute('data-config')) || 'scripthammer-config').textContent); } catch { /* no config */ }
  const fs = cfg && cfg.fastStart;
  const MS = window.MediaSource;
  const mime = fs && `audio/mp4; codecs="${fs.codecs || 'mp4a.40.2'}"`;
  const remembered = () => {
    try {
      const t = Number(localStorage.getItem(`scripthammer:pos:${fs.track}`)) || 0;
      return t >= 5 && !(fs.duration && t > fs.duration - 5); // the player resumes there instead
    } catch { return false; }
  };
  if (!fs || !cfg.autoplay || cfg.startAt > 0 || cfg.startTrack !== undefined || cfg.index !== undefined
      || !MS || !MS.isTypeSupported(mime) || remembered()) {
    loadMain();
    return;
  }

  mark('start');
  const audio = document.createElement('audio');
  audio.preload = 'auto';
  audio.crossOrigin = 'anonymous';
  const ms = new MS();
  // state: starting -> ready (init + first segment appended) | failed. The player takes it once.
  const boot = { audio, mediaSource: ms, sourceBuffer: null, track: fs.track, level: fs.level, codecs: fs.codecs || 'mp4a.40.2',
    state: 'starting', taken: false };
  const fail = () => {
    if (boot.state === 'failed' || boot.taken) return;
    boot.state = 'failed';
    try { audio.removeAttribute('src'); audio.load(); } catch { /* nothing attached */ }
    loadMain();
  };
  // The player calls this when it is running; a start still under way is abandoned (the player
  // then starts hls.js the usual way on the same element).
  boot.take = () => {
    if (boot.taken) return null;
    if (boot.state !== 'ready') fail();
    boot.taken = true;
    return boot;
  };
  const get = (url) => fetch(url, { mode: 'cors', credentials: 'same-origin' }).then((r) => {
    if (!r.ok) throw new Error(`${r.status} for ${url}`);
    return r.arrayBuffer();
  });
  const data = Promise.all([get(fs.init), get(fs.segment)]);
  data.catch(fail);
  // The page does not preload the bundle on this path (on a slow link it would share the bandwidth
  // with the first segment): it is fetched once the first segment is in, meanwhile evaluated only
  // after the first sound (below).
  data.then(() => {
    if (mainLoaded || !mainUrl) return;
    const l = document.createElement('link');
    l.rel = 'preload';
    l.as = 'script';
    l.href = mainUrl;
    document.head.appendChild(l);
  }, () => {});
  const append = (sb, bytes) => new Promise((resolve, reject) => {
    if (boot.taken || boot.state === 'failed') { reject(new Error('abandoned')); return; }
    const done = () => { sb.removeEventListener('updateend', done); sb.removeEventListener('error', reject); resolve(); };
    sb.addEventListener('updateend', done);
    sb.addEventListener('error', reject);
    sb.appendBuffer(bytes);
  });
  ms.addEventListener('sourceopen', () => {
    mark('open');
    place();
    let sb;
    try {
      sb = ms.addSourceBuffer(mime);
      if (fs.duration > 0) ms.duration = fs.duration;
    } catch { fail(); return; }
    boot.sourceBuffer = sb;
    data.then(([init, seg]) => append(sb, init).then(() => append(sb, seg))).then(() => {
      if (boot.taken || boot.state === 'failed') return;
      boot.state = 'ready';
      mark('buffered');
      // Start where the audio is (priming can leave the first frame a little after 0).
      if (sb.buffered.length && sb.buffered.start(0) > audio.currentTime) audio.currentTime = sb.buffered.start(0);
      audio.play().then(whenHeard, loadMain); // refused (no autoplay): the player shows its play button
    }).catch(fail);
  }, { once: true });
  audio.src = URL.createObjectURL(ms);
  // In the player's box (hidden: no controls) until the player builds itself around it; the page may
  // still be parsing (this runs in its head).
  const place = () => {
    if (!audio.isConnected) (document.querySelector('[data-scripthammer-player]') || document.body || document.documentElement).appendChild(audio);
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', place, { once: true });
  else place();
  // The bundle's evaluation and the player's DOM are long tasks: they wait until the audio clock
  // runs (currentTime > 0), so the start of the sound does not queue behind them, and then for an
  // idle moment, so what the page had queued meanwhile runs first.
  const whenHeard = () => {
    const t0 = performance.now();
    const check = () => {
      if (audio.currentTime > 0 || audio.paused || performance.now() - t0 > 400) {
        mark('heard');
        if (window.requestIdleCallback) requestIdleCallback(loadMain, { timeout: 50 });
        else setTimeout(loadMain, 0);
      } else setTimeout(check, 4);
    };
    check();
  };
  setTimeout(loadMain, 1500); // whatever happens, the player comes
  // Not window.ScriptHammer: pages test for that to know the player bundle is running.
  window.ScriptHammerBoot = boot;
})();
