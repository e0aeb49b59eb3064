"""The worker process's Services, built from its environment (or set by a test)."""
from __future__ import annotations

from companion.config import Config
from companion.services import Services, services_for

_config: Config | None = None


def configure(config: Config | None) -> None:
    """Use ``config`` for jobs run in this process (None: back to the environment)."""
    global _config
    _config = config


def services() -> Services:
    return services_for(_config or Config.from_env())
