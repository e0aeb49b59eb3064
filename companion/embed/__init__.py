"""Embedding the player: standalone pages per track and album, oEmbed, and the player bundle."""
