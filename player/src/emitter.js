// A tiny event emitter: on/off/once/emit. Listeners that throw do not stop the others.
export class Emitter {
  constructor() {
    this._listeners = new Map();
  }

  on(type, fn) {
    if (!this._listeners.has(type)) this._listeners.set(type, new Set());
    this._listeners.get(type).add(fn);
    return () => this.off(type, fn);
  }

  once(type, fn) {
    const off = this.on(type, (detail) => {
      off();
      fn(detail);
    });
    return off;
  }

  off(type, fn) {
    const set = this._listeners.get(type);
    if (set) set.delete(fn);
  }

  emit(type, detail) {
    for (const key of [type, '*']) {
      const set = this._listeners.get(key);
      if (!set) continue;
      for (const fn of [...set]) {
        try {
          key === '*' ? fn(type, detail) : fn(detail);
        } catch (err) {
          console.error('[scripthammer-player] listener for', type, 'failed:', err);
        }
      }
    }
  }
}
