// A tiny script for pages that embed the player in an iframe (e.g. from oEmbed):
//   const p = ScriptHammer.connect(document.querySelector('iframe'));
//   await p.whenReady(); p.play(); p.on('timeupdate', ({currentTime}) => ...);
import { connect, RemotePlayer } from './bridge.js';

const api = { connect, RemotePlayer };
if (typeof window !== 'undefined') window.ScriptHammer = Object.assign(window.ScriptHammer || {}, api);
export default api;
