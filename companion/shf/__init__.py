"""SHF, the ScriptHammer Format: one signed file with a piece's audio, score, code and settings.

The spec is docs/shf.md. :mod:`.writer` builds bundles, :mod:`.reader` opens, validates,
verifies and extracts them (refusing hostile archives), :mod:`.regenerate` re-creates the piece
from the bundle's own algorithm scripts in a sandboxed process (trusted signatures only).
"""
from .spec import FORMAT_NAME, FORMAT_VERSION  # noqa: F401
