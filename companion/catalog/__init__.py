"""Albums, tracks, performances and their renditions."""

# The object index keeps itself up to date through session events: registered with the package.
from companion.catalog import objects as _objects  # noqa: E402,F401
