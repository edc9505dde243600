"""Where ghlbridge keeps its state: the home directory and the database URL (env-driven)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

HOME_ENV = "GHLBRIDGE_HOME"
DATABASE_URL_ENV = "GHLBRIDGE_DATABASE_URL"
SECRET_KEY_ENV = "GHLBRIDGE_SECRET_KEY"
DEFAULT_HOME = "~/.ghlbridge"
DATABASE_FILENAME = "ghlbridge.db"


def home_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return the state directory (``$GHLBRIDGE_HOME`` or ``~/.ghlbridge``), creating it 0700."""
    environ = os.environ if env is None else env
    raw = environ.get(HOME_ENV) or DEFAULT_HOME
    path = Path(raw).expanduser()
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def database_url(env: Mapping[str, str] | None = None) -> str:
    """Return ``$GHLBRIDGE_DATABASE_URL`` or the default SQLite file inside :func:`home_dir`."""
    environ = os.environ if env is None else env
    url = environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        return url
    return f"sqlite:///{home_dir(environ) / DATABASE_FILENAME}"
