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
    var release = $('scripthammer-release-state');
    if (release && track.release) { release.value = track.release; }  // the companion's, e.g. public once published
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

  // --- "Publish to site": the companion publishes this post; follow its job, show where it stands.
  var pubBox = $('scripthammer-publish-box');
  var p = t.pub || {};

  function showPublication(pub, note) {
    var line = $('scripthammer-publication');
    if (!line || !pub) { return; }
    line.textContent = '';
    line.setAttribute('data-state', pub.state || 'never');
    var text = p[pub.state] || pub.state || '';
    if (pub.error && (pub.state === 'failed' || pub.state === 'retrying')) { text += ' ' + pub.error.message; }
    line.appendChild(document.createTextNode(text));
    line.className = 'scripthammer-publication' + (pub.state === 'failed' ? ' scripthammer-message--error notice notice-error inline' : '');
    if (pub.link && pub.state === 'published') {
      var a = document.createElement('a');
      a.href = pub.link;
      a.id = 'scripthammer-publication-link';
      a.target = '_blank';
      a.rel = 'noopener';
      a.textContent = p.view;
      line.appendChild(document.createTextNode(' '));
      line.appendChild(a);
    }
    if (note) {
      var small = document.createElement('em');
      small.textContent = ' ' + note;
      line.appendChild(small);
    }
    var un = $('scripthammer-unpublish');
    if (un) { un.hidden = pub.state !== 'published'; }
  }

  function pubProgress(pct, text) {
    var wrap = pubBox.querySelector('.scripthammer-publish-progress');
    if (!wrap) { return; }
    wrap.hidden = false;
    $('scripthammer-publish-progress').value = pct;
    $('scripthammer-publish-progress-text').textContent = text;
  }

  function loadPublication(note) {
    return api('editor/tracks/' + postId + '/publication').then(function (pub) { showPublication(pub, note); })
      .catch(function (e) { showPublication({ state: 'failed', error: { message: e.message } }); });
  }

  function followPublish(jobId) {
    api('editor/jobs/' + encodeURIComponent(jobId)).then(function (job) {
      if (job.state === 'finished' || job.state === 'failed') {
        pubProgress(job.state === 'finished' ? 100 : 0, job.state === 'finished' ? '100%' : '');
        setBusy(false);
        if (job.state === 'finished') { loadTrack(); }
        return loadPublication(job.state === 'finished' ? p.reload : '');
      }
      pubProgress(job.progress || 0, p.working + (job.stage ? ' (' + job.stage + ')' : '') + ' ' + (job.progress || 0) + '%');
      window.setTimeout(function () { followPublish(jobId); }, 700);
    }).catch(function (e) { setBusy(false); showPublication({ state: 'failed', error: { message: e.message } }); });
  }

  function setBusy(busy) {
    ['scripthammer-publish', 'scripthammer-unpublish'].forEach(function (id) {
      if ($(id)) { $(id).disabled = busy; }
    });
  }

  function publish(e) {
    var action = e.currentTarget.getAttribute('data-action');
    setBusy(true);
    pubProgress(0, p.working + '…');
    api('editor/tracks/' + postId + '/publication', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ action: action })
    }).then(function (queued) {
      pubBox.setAttribute('data-job', queued.job_id);
      showPublication(queued.publication);
      followPublish(queued.job_id);
    }).catch(function (err) { setBusy(false); showPublication({ state: 'failed', error: { message: err.message } }); });
  }

  if (pubBox) {
    ['scripthammer-publish', 'scripthammer-unpublish'].forEach(function (id) {
      if ($(id)) { $(id).addEventListener('click', publish); }
    });
  }

  var button = $('scripthammer-upload');
  if (button) { button.addEventListener('click', upload); }
  if (box.getAttribute('data-companion-id') !== '0') {
    loadTrack();
    if (pubBox) { loadPublication(); }
  }
}());
