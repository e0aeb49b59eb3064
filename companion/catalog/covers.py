"""Covers: an item's own cover, its album's, or a generated default in the band's colours."""
from __future__ import annotations

import io

from companion.catalog.models import Album, Track

_BAND_COLOURS = [(18, 22, 38), (232, 93, 4), (244, 211, 94), (45, 156, 219), (235, 235, 230)]


def default_cover_png(title: str, size: int = 600) -> bytes:
    """The cover an item without its own gets (PNG bytes): band-colour stripes, a sun, the title."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (size, size), _BAND_COLOURS[0])
    draw = ImageDraw.Draw(img)
    seed = sum(map(ord, title))
    for i in range(12):
        colour = _BAND_COLOURS[1 + (i + seed) % (len(_BAND_COLOURS) - 1)]
        y = int(size * (0.55 + i * 0.035))
        draw.rectangle([0, y, size, y + max(2, size // 120 + i)], fill=colour)
    r = size // 5
    cx, cy = size // 2, int(size * 0.42)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=_BAND_COLOURS[1], outline=_BAND_COLOURS[2], width=6)
    try:
        font = ImageFont.load_default(size=size // 14)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    draw.text((size // 16, size // 16), "SCRIPTHAMMER", fill=_BAND_COLOURS[4], font=font)
    draw.text((size // 16, int(size * 0.86)), title[:28], fill=_BAND_COLOURS[2], font=font)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def cover_key_of(item: Track | Album) -> str | None:
    """The stored cover of a track (its own, else its album's) or of an album; None when it has none."""
    if isinstance(item, Track):
        return item.cover_key or (item.album.cover_key if item.album else None)
    return item.cover_key


def cover_of(store, item: Track | Album) -> tuple[bytes, str]:
    """(image bytes, MIME type) of the item's cover, the generated default when it has none."""
    key = cover_key_of(item)
    data = store.get_bytes(key) if key else default_cover_png(item.title)
    return data, ("image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/png")
