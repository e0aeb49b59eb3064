"""The SHF spec's constants and its error types (docs/shf.md is the normative text)."""
from __future__ import annotations

from ..errors import ScriptHammerError

FORMAT_NAME = "scripthammer-shf"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
MANIFEST = "shf.json"
SIGNATURE = "shf.sig"
MEDIA_TYPE = "application/vnd.scripthammer.shf+zip"
EXTENSION = "shf"

# Roles of the files a bundle carries (each listed in the manifest with its sha256 and size).
ROLES = ("master", "stem", "composition", "midi", "musicxml", "algorithm", "instrument", "settings", "sample",
         "credits")
PREFIX_ROLE = {"audio/master.flac": "master", "audio/stems/": "stem", "composition/": "composition",
               "score/score.mid": "midi", "score/score.musicxml": "musicxml", "algorithms/": "algorithm",
               "instruments/": "instrument", "render/": "settings", "samples/": "sample", "credits/": "credits"}
#: The release's credits (companion/rights/credits.py): shares, performers, per-note provenance summary,
#: and the split sheet as CSV. Listed and hashed in the manifest like every member, so the signature
#: covers them.
CREDITS_JSON = "credits/credits.json"
CREDITS_CSV = "credits/split-sheet.csv"

# Limits a reader enforces (a bundle over any of them is refused before anything is written).
MAX_MEMBERS = 512
MAX_MEMBER_BYTES = {"master": 2 << 30, "stem": 1 << 30, "composition": 16 << 20, "midi": 16 << 20,
                    "musicxml": 64 << 20, "algorithm": 1 << 20, "instrument": 256 << 10, "settings": 1 << 20,
                    "sample": 512 << 20, "credits": 4 << 20}
MAX_MANIFEST_BYTES = 1 << 20
MAX_TOTAL_BYTES = 8 << 30
MAX_RATIO = 100          # uncompressed / compressed, for members over RATIO_FLOOR bytes
RATIO_FLOOR = 1 << 20
MAX_PATH = 240

# Regeneration: how close the re-rendered master must be to the bundled one.
TOLERANCE = {"identical_when_engines_match": True, "max_loudness_delta_lu": 0.5, "max_residual_db": -30.0}


class SHFError(ScriptHammerError):
    """Base of every SHF error; ``code`` is short and stable (shown by the CLI and the API)."""

    status = 422
    code = "shf_error"

    def __init__(self, message: str, **details):
        super().__init__(message, details=details)


class NotSHF(SHFError):
    status = 415
    code = "not_shf"


class UnsafeBundle(SHFError):
    """Path traversal, links, zip bombs, oversized or unlisted members."""

    code = "unsafe_bundle"


class UnknownVersion(SHFError):
    code = "unknown_version"


class IntegrityError(SHFError):
    """A member's bytes do not match the manifest."""

    code = "integrity_error"


class BundleSignatureError(SHFError):
    """A bundle's signature is missing, malformed or invalid (so its code is not run)."""

    status = 403
    code = "bad_signature"


class UntrustedBundle(SHFError):
    """Validly signed, but by a key the user does not trust (so its code is not run)."""

    status = 403
    code = "untrusted_signature"


class SandboxError(SHFError):
    """The bundle's scripts broke a limit or failed in the sandbox."""

    code = "sandbox_failed"


class SandboxUnavailable(SHFError):
    """This machine cannot isolate a bundle's scripts (no bubblewrap, no user namespaces, no seccomp):
    nothing is run, never without the sandbox."""

    status = 503
    code = "sandbox_unavailable"


def role_of(path: str) -> str | None:
    for prefix, role in PREFIX_ROLE.items():
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            return role
    return None
