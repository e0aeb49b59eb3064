/* ScriptHammer track editor: upload straight to the companion, follow the job, show the result. */
(function () {
  'use strict';
  var cfg = window.ScriptHammerEditor;
  var box = document.getElementById('scripthammer-recording-box');
  if (!cfg || !box) { return; }
  var t = cfg.i18n;
  var postId = box.getAttribute('data-post');
  var $ = function (id) { return document.getElementById(id); };

  function say(text, isError) {
    var m = $('scripthammer-message');
    m.textContent = text;
    m.className = 'scripthammer-message' + (isError ? ' scripthammer-message--error notice notice-error inline' : '');
  }

  function progress(pct, text) {
    box.querySelector('.scripthammer-progress').hidden = false;
    $('scripthammer-progress').value = pct;
    $('scripthammer-progress-text').textContent = text;
  }

  function api(path, options) {
    options = options || {};
    options.headers = Object.assign({ 'X-WP-Nonce': cfg.nonce }, options.headers || {});
    options.credentials = 'same-origin';
    return fetch(cfg.root + path, options).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) { throw new Error(body.message || ('HTTP ' + r.status)); }
        return body;
      });
    });
  }

  function humanSize(bytes) {
    var units = ['B', 'KB', 'MB', 'GB'];
    var i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
    return (i ? bytes.toFixed(1) : bytes) + ' ' + units[i];
  }

  function showTrack(track) {
    if (!track || !track.companion_id) { return; }
    var rows = track.renditions || [];
    var table = $('scripthammer-renditions');
    var body = table.querySelector('tbody');
    body.textContent = '';
    rows.forEach(function (r) {
      var tr = document.createElement('tr');
      tr.className = 'scripthammer-rendition';
      [r.name, r.codec, r.bitrate ? Math.round(r.bitrate / 1000) + ' kbps' : '—', humanSize(r.size || 0)].forEach(function (v) {
        var td = document.createElement('td');
        td.textContent = v;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.hidden = rows.length === 0;
    var l = track.loudness || {};
    if (l.integrated_lufs !== null && l.integrated_lufs !== undefined) {
      $('scripthammer-loudness').textContent = t.loudness + ': ' + Number(l.integrated_lufs).toFixed(1) + ' LUFS, ' +
        t.truePeak + ' ' + Number(l.true_peak_dbtp).toFixed(1) + ' dBTP';
    }
    drawWaveform(track.waveform || []);
    if (track.status === 'ready') { say(t.ready); }
    if (track.status === 'failed' && track.error) { say(t.failed + ' ' + track.error.message, true); }
  }

  function drawWaveform(points) {
    var canvas = $('scripthammer-waveform');
    if (!points.length) { canvas.hidden = true; return; }
    canvas.hidden = false;
    canvas.setAttribute('data-points', String(points.length));
    var ctx = canvas.getContext('2d');
    var w = canvas.width, h = canvas.height, mid = h / 2, step = w / points.length;
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = '#2f6fd6';
    points.forEach(function (p, i) {
      var bar = Math.max(1, p * (h - 4));
      ctx.fillRect(i * step, mid - bar / 2, Math.max(1, step - 1), bar);
    });
  }

  function loadTrack() {
    return api('editor/tracks/' + postId).then(showTrack).catch(function (e) { say(e.message, true); });
  }

  function follow(jobId) {
    api('editor/jobs/' + encodeURIComponent(jobId)).then(function (job) {
      if (job.state === 'finished') {
        progress(100, '100%');
        return loadTrack();
      }
      if (job.state === 'failed') {
        say(t.failed + ' ' + (job.error || ''), true);
        return loadTrack();
      }
      var label = job.state === 'queued' ? t.queued : t.processing + (job.stage ? ' (' + job.stage + ')' : '');
      progress(job.progress || 0, label + ' ' + (job.progress || 0) + '%');
      say(label + '…');
      window.setTimeout(function () { follow(jobId); }, 1000);
    }).catch(function (e) { say(e.message, true); });
  }

  function upload() {
    var input = $('scripthammer-file');
    var file = input && input.files && input.files[0];
    if (!file) { say(t.choose, true); return; }
    say(t.preparing);
    api('editor/tracks/' + postId + '/upload', { method: 'POST' }).then(function (grant) {
      box.setAttribute('data-companion-id', String(grant.companion_id));
      var xhr = new XMLHttpRequest();
      xhr.open('POST', grant.upload_url + '?filename=' + encodeURIComponent(file.name));
      xhr.setRequestHeader('Authorization', 'Bearer ' + grant.token);
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) {
          var pct = Math.round((e.loaded / e.total) * 100);
          progress(pct, t.uploading + ' ' + pct + '%');
        }
      };
      xhr.onerror = function () { say(t.network, true); };
      xhr.onload = function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
        if (xhr.status !== 202) {
          say(body.message || ('HTTP ' + xhr.status), true);
          return;
        }
        box.setAttribute('data-job', body.job_id);
        follow(body.job_id);
      };
      xhr.send(file);
    }).catch(function (e) { say(e.message, true); });
  }

  var button = $('scripthammer-upload');
  if (button) { button.addEventListener('click', upload); }
  if (box.getAttribute('data-companion-id') !== '0') { loadTrack(); }
}());
