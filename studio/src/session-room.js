// A member in a live session's room (the Janus AudioBridge) over WebRTC, at music settings:
// the microphone without echo cancellation, gain control or noise suppression, and Opus asked for
// stereo, 128 kbit/s and no DTX in both SDPs (the companion says the same in Janus' answer).

export const MUSIC_FMTP = { stereo: '1', 'sprop-stereo': '1', maxaveragebitrate: '128000', usedtx: '0' };

export const MIC_CONSTRAINTS = {
  audio: {
    echoCancellation: false, autoGainControl: false, noiseSuppression: false,
    channelCount: { ideal: 2 }, sampleRate: { ideal: 48000 },
  },
  video: false,
};

// Every Opus payload's fmtp with MUSIC_FMTP (other parameters kept); an fmtp line added where none is.
export function musicSdp(sdp) {
  const nl = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(nl);
  const opus = new Set();
  for (const l of lines) {
    const m = /^a=rtpmap:(\d+) opus\/48000/i.exec(l);
    if (m) opus.add(m[1]);
  }
  const hasFmtp = new Set(lines.map((l) => /^a=fmtp:(\d+)/.exec(l)).filter(Boolean).map((m) => m[1]));
  const want = Object.entries(MUSIC_FMTP).map(([k, v]) => `${k}=${v}`);
  const out = [];
  for (const l of lines) {
    const m = /^a=fmtp:(\d+) ?(.*)$/.exec(l);
    if (m && opus.has(m[1])) {
      const kept = m[2].split(';').map((p) => p.trim()).filter((p) => p && !(p.split('=')[0].trim().toLowerCase() in MUSIC_FMTP));
      out.push(`a=fmtp:${m[1]} ${[...kept, ...want].join(';')}`);
      continue;
    }
    out.push(l);
    const r = /^a=rtpmap:(\d+) opus\/48000/i.exec(l);
    if (r && !hasFmtp.has(r[1])) out.push(`a=fmtp:${r[1]} ${want.join(';')}`);
  }
  return out.join(nl);
}

function gathered(pc, ms = 3000) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
    });
  });
}

// Join: getUserMedia, the offer (music settings, candidates gathered: no trickle through the companion),
// Janus' answer through POST /api/live/sessions/<id>/join. Resolves to { pc, mic, remote, participant }.
export async function joinRoom({ api, sessionId, token, audio }) {
  const mic = await navigator.mediaDevices.getUserMedia(MIC_CONSTRAINTS);
  let ice = [];
  try {
    const r = await fetch(`${api}/live/sessions/${sessionId}/ice`, { headers: { Authorization: `Bearer ${token}` } });
    if (r.ok) ice = (await r.json()).ice_servers || [];
  } catch (e) { /* no TURN: host candidates */ }
  const pc = new RTCPeerConnection({ iceServers: ice });
  for (const track of mic.getAudioTracks()) pc.addTrack(track, mic);
  const remote = new MediaStream();
  pc.addEventListener('track', (ev) => {
    remote.addTrack(ev.track);
    if (audio) { audio.srcObject = remote; audio.play().catch(() => {}); }
  });
  const offer = await pc.createOffer();
  await pc.setLocalDescription({ type: 'offer', sdp: musicSdp(offer.sdp) });
  await gathered(pc);
  const res = await fetch(`${api}/live/sessions/${sessionId}/join`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsep: { type: 'offer', sdp: pc.localDescription.sdp } }),
  });
  const body = await res.json();
  if (!res.ok) {
    pc.close();
    mic.getTracks().forEach((t) => t.stop());
    const err = new Error(body.message || `join failed (${res.status})`);
    err.status = res.status; err.code = body.code;
    throw err;
  }
  await pc.setRemoteDescription({ type: 'answer', sdp: musicSdp(body.jsep.sdp) });
  return { pc, mic, remote, participant: body.participant };
}
