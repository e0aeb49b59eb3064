"""Playback analytics: beacons from the player, stored as playback events (aggregation comes later)."""
