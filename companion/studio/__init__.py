"""The members' studio: the browser app under /studio/ and the studio's own API (the model as the
roll draws it, edit checks, the composition's SoundFont, live updates, comments)."""
