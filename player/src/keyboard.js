// Keyboard control: space plays/pauses, left/right seek 5 s (shift: 30 s), up/down change the
// volume, M mutes, N/P next and previous track. Keys typed into form fields are left alone.

const TYPING = new Set(['INPUT', 'TEXTAREA', 'SELECT']);

export function bindKeyboard(target, player, { root } = {}) {
  const onKey = (e) => {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    const el = e.target;
    if (el && (TYPING.has(el.tagName) || el.isContentEditable)) return;
    // Space on a button or link other than the player's own play button activates that control.
    const isControl = el && (el.tagName === 'BUTTON' || el.tagName === 'A') && !el.classList.contains('shp-play');
    const step = e.shiftKey ? 30 : 5;
    switch (e.key) {
      case ' ':
      case 'Spacebar':
      case 'k':
        if (isControl) return;
        player.toggle();
        break;
      case 'ArrowRight':
        player.seek(player.currentTime + step, 'keyboard');
        break;
      case 'ArrowLeft':
        player.seek(Math.max(0, player.currentTime - step), 'keyboard');
        break;
      case 'ArrowUp':
        player.setVolume(Math.min(1, player.volume + 0.1));
        break;
      case 'ArrowDown':
        player.setVolume(Math.max(0, player.volume - 0.1));
        break;
      case 'm':
      case 'M':
        player.setMuted(!player.muted);
        break;
      case 'n':
      case 'N':
        player.next();
        break;
      case 'p':
      case 'P':
        player.previous();
        break;
      default:
        return;
    }
    e.preventDefault();
    if (root) root.dataset.lastKey = e.key;
  };
  target.addEventListener('keydown', onKey);
  return () => target.removeEventListener('keydown', onKey);
}
