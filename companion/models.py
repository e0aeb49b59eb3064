"""Every room's models in one place: importing them all lets Base.metadata know every table (a fresh
worker process, Alembic's env, the migration test). Kept out of companion/db.py so that the database
module imports no room (no import cycle)."""
from __future__ import annotations


def import_models() -> None:
    """Import every domain's models so Base.metadata knows all tables."""
    from companion.band import models as _band  # noqa: F401
    from companion.catalog import models as _catalog  # noqa: F401
    from companion.tasks import models as _tasks  # noqa: F401
    from companion.analytics import models as _analytics  # noqa: F401
    from companion.wordpress import models as _wordpress  # noqa: F401
    from companion.access import models as _access  # noqa: F401
    from companion.samples import models as _samples  # noqa: F401
    from companion.commerce import models as _commerce  # noqa: F401
    from companion.rights import models as _rights  # noqa: F401
    from companion.studio import models as _studio  # noqa: F401
    from companion.live import models as _live  # noqa: F401
    from companion.compositions import shared as _compositions_shared  # noqa: F401
    from companion.notify import models as _notify  # noqa: F401
