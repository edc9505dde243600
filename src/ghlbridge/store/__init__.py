"""Persistent state: database engines and migrations, the credential vault, connections, tokens."""

from ghlbridge.store.connections import (
    Connection,
    ConnectionExistsError,
    ConnectionNotFoundError,
    ConnectionStore,
    InvalidConnectionError,
)
from ghlbridge.store.db import begin_write, create_engine, migrate
from ghlbridge.store.settings import database_url, home_dir
from ghlbridge.store.tokens import (
    MemoryTokenStore,
    SQLTokenStore,
    TokenLockTimeout,
    TokenSet,
    TokenStore,
    token_key,
)
from ghlbridge.store.vault import (
    DecryptionError,
    KeyFileError,
    RotationError,
    RotationResult,
    Vault,
    VaultError,
)

__all__ = [
    "Connection",
    "ConnectionExistsError",
    "ConnectionNotFoundError",
    "ConnectionStore",
    "DecryptionError",
    "InvalidConnectionError",
    "KeyFileError",
    "MemoryTokenStore",
    "RotationError",
    "RotationResult",
    "SQLTokenStore",
    "TokenLockTimeout",
    "TokenSet",
    "TokenStore",
    "Vault",
    "VaultError",
    "begin_write",
    "create_engine",
    "database_url",
    "home_dir",
    "migrate",
    "token_key",
]
