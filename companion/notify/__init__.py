"""Web Push (VAPID) for fans who opt in: new releases and scheduled broadcasts (docs/mobile.md)."""
