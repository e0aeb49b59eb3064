"""Albums, tracks, performances and their renditions."""
