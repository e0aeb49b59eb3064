// The installed app's own bar (the /app page): signing in with the device authorization grant (RFC 8628;
// the fan confirms the code in WordPress) and opting this browser in to Web Push news.
//
// The app keeps only the refresh token (localStorage); the listener token it is exchanged for lives in
// memory, as on the embed pages. Signing out forgets both and the remembered offline key.
import { OfflineStore, registerServiceWorker } from './offline.js';
import { authHeaders } from './access.js';
import { h } from './format.js';

const REFRESH = 'scripthammer-app-refresh';
const CLIENT_ID = 'scripthammer-app';

function stored() {
  try { return localStorage.getItem(REFRESH); } catch { return null; }
}

function store(value) {
  try {
    if (value) localStorage.setItem(REFRESH, value);
    else localStorage.removeItem(REFRESH);
  } catch { /* storage off */ }
}

function b64uToBytes(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

export class AppBar {
  constructor(player, { clientId = CLIENT_ID } = {}) {
    this.player = player;
    this.api = player.api;
    this.clientId = clientId;
    this.fan = null;
    this.el = {};
    this._build();
    // After the player's own start (player.ready is set once its constructor returns).
    this.ready = Promise.resolve().then(() => this.player.ready).then(() => this._resume()).catch(() => false);
  }

  _build() {
    const el = this.el;
    el.who = h('span', { class: 'shp-app-who' }, 'Not signed in');
    el.signIn = h('button', { type: 'button', class: 'shp-app-signin', onclick: () => this.signIn() }, 'Sign in');
    el.signOut = h('button', { type: 'button', class: 'shp-app-signout', hidden: true, onclick: () => this.signOut() }, 'Sign out');
    el.code = h('p', { class: 'shp-app-code', hidden: true, role: 'status' });
    el.notify = h('button', { type: 'button', class: 'shp-app-notify', hidden: true, 'aria-pressed': 'false',
      onclick: () => (this.el.notify.getAttribute('aria-pressed') === 'true' ? this.disableNotifications() : this.enableNotifications()) },
    'Notify me of releases and broadcasts');
    el.note = h('p', { class: 'shp-app-note', role: 'status', 'aria-live': 'polite' });
    this.root = h('div', { class: 'shp-app' }, el.who, ' ', el.signIn, el.signOut, ' ', el.notify, el.code, el.note);
    this.player.root.prepend(this.root);
  }

  _say(text) { this.el.note.textContent = text; }

  async _post(path, params) {
    const r = await fetch(`${this.api}${path}`, { method: 'POST', body: new URLSearchParams(params), credentials: 'omit' });
    return { status: r.status, body: await r.json().catch(() => ({})) };
  }

  /** A refresh token kept from an earlier sign-in: a new listener token, when online. */
  async _resume() {
    const refresh = stored();
    if (!refresh || !navigator.onLine) return false;
    const r = await this._post('/api/auth/token', { grant_type: 'refresh_token', refresh_token: refresh, client_id: this.clientId });
    if (r.status !== 200) {
      store(null);
      return false;
    }
    await this._signedIn(r.body);
    return true;
  }

  /** Start the device grant: show the code, poll until the fan answers in WordPress. */
  async signIn() {
    const start = await this._post('/api/auth/device', { client_id: this.clientId });
    if (start.status !== 200) {
      this._say(start.body.message || 'Signing in is not available here.');
      return false;
    }
    const d = start.body;
    this.el.code.replaceChildren('Go to ', h('a', { href: d.verification_uri_complete || d.verification_uri, target: '_blank', rel: 'noopener' },
      d.verification_uri), ' and enter ', h('strong', { class: 'shp-app-usercode' }, d.user_code), '.');
    this.el.code.hidden = false;
    let interval = Math.max(1, Number(d.interval) || 5);
    const until = Date.now() + (Number(d.expires_in) || 600) * 1000;
    while (Date.now() < until) {
      await new Promise((ok) => { setTimeout(ok, interval * 1000); });
      const r = await this._post('/api/auth/token', {
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: d.device_code, client_id: this.clientId,
      });
      if (r.status === 200) {
        this.el.code.hidden = true;
        await this._signedIn(r.body);
        return true;
      }
      const error = r.body.error;
      if (error === 'slow_down') interval += 5;
      else if (error !== 'authorization_pending') {
        this.el.code.hidden = true;
        this._say(error === 'access_denied' ? 'Sign-in was declined.' : 'The code expired: sign in again.');
        return false;
      }
    }
    this.el.code.hidden = true;
    this._say('The code expired: sign in again.');
    return false;
  }

  async _signedIn(body) {
    store(body.refresh_token);
    this.fan = body.listener || {};
    this.player.listenerToken = body.access_token;
    this.el.who.textContent = `Signed in as ${this.fan.display_name || 'fan'}`;
    this.el.signIn.hidden = true;
    this.el.signOut.hidden = false;
    this.el.notify.hidden = !('PushManager' in window);
    this._say('');
    await this.player.refreshAccess();
    await this._showNotifyState();
  }

  async signOut() {
    await this.disableNotifications().catch(() => {});
    store(null);
    OfflineStore.forget();
    this.fan = null;
    this.player.listenerToken = null;
    this.el.who.textContent = 'Not signed in';
    this.el.signIn.hidden = false;
    this.el.signOut.hidden = true;
    this.el.notify.hidden = true;
    await this.player.refreshAccess();
  }

  async _registration() {
    await registerServiceWorker(this.player.options.pwa && this.player.options.pwa.sw);
    return navigator.serviceWorker.ready;
  }

  async _showNotifyState() {
    const reg = await this._registration();
    const sub = await reg.pushManager.getSubscription();
    this.el.notify.setAttribute('aria-pressed', String(!!sub));
  }

  /** Opt this browser in: a push subscription with the companion's VAPID key, stored for this fan. */
  async enableNotifications(topics = ['broadcasts', 'releases']) {
    const token = this.player.listenerToken;
    if (!token) throw new Error('Sign in first.');
    if ((await Notification.requestPermission()) !== 'granted') {
      this._say('Notifications are blocked for this site.');
      return null;
    }
    const key = await (await fetch(`${this.api}/api/push/key`)).json();
    const reg = await this._registration();
    const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64uToBytes(key.public_key) });
    const r = await fetch(`${this.api}/api/push/subscriptions`, {
      method: 'POST', credentials: 'omit', headers: { 'Content-Type': 'application/json', ...authHeaders(token) },
      body: JSON.stringify({ ...sub.toJSON(), topics }),
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      await sub.unsubscribe().catch(() => {});
      this._say(body.message || `The companion refused the subscription (${r.status}).`);
      return null;
    }
    this.el.notify.setAttribute('aria-pressed', 'true');
    this._say('You will be told of new releases and broadcasts.');
    return body;
  }

  async disableNotifications() {
    const reg = await this._registration();
    const sub = await reg.pushManager.getSubscription();
    if (!sub) return false;
    const token = this.player.listenerToken;
    if (token) {
      await fetch(`${this.api}/api/push/subscriptions`, {
        method: 'DELETE', credentials: 'omit', headers: { 'Content-Type': 'application/json', ...authHeaders(token) },
        body: JSON.stringify({ endpoint: sub.endpoint }),
      });
    }
    await sub.unsubscribe();
    this.el.notify.setAttribute('aria-pressed', 'false');
    this._say('Notifications are off.');
    return true;
  }
}
