"""Encryption at rest for credentials: Fernet keys from the environment or a 0600 key file.

Where the keys come from (newest first; the first one encrypts, all of them decrypt):

- ``GHLBRIDGE_SECRET_KEY``: one or more comma-separated Fernet keys, newest first, plus any
  key a rotation left in ``<home>/secret.key.pending`` (see :meth:`Vault.rotate_key`);
- otherwise the key file ``<home>/secret.key`` (created on first use, mode 0600) plus the
  keys in ``<home>/secret.key.old``, which exists only while a rotation is unfinished.

Every ciphertext is stored beside the short id of the key that made it (:func:`key_id_of`),
so a missing key is reported by id instead of as an opaque decryption failure.

Exceptions: ``VaultError`` -> ``KeyFileError`` (a key file or env value is unusable),
``DecryptionError`` (no configured key opens a ciphertext), ``RotationError``.
Their messages name files, key ids and table rows, never key material or plaintext.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import secrets
import stat
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from ghlbridge.store.db import begin_write
from ghlbridge.store.schema import ENCRYPTED_COLUMNS, EncryptedColumn
from ghlbridge.store.settings import DEFAULT_HOME, HOME_ENV, SECRET_KEY_ENV, home_dir

KEY_FILENAME = "secret.key"
OLD_KEY_FILENAME = "secret.key.old"
PENDING_KEY_FILENAME = "secret.key.pending"
ROTATION_LOCK_FILENAME = "secret.key.lock"


class VaultError(Exception):
    """Base class of the vault's errors."""


class KeyFileError(VaultError):
    """A key file or ``GHLBRIDGE_SECRET_KEY`` is missing, unsafe or malformed."""


class DecryptionError(VaultError):
    """No configured key can decrypt a ciphertext (wrong key, or tampered data)."""


class RotationError(VaultError):
    """A key rotation could not finish; the message says what state it left."""


def key_id_of(key: str | bytes) -> str:
    """A short, stable, non-secret id of a Fernet key (12 hex chars of a SHA-256)."""
    raw = key.encode("ascii") if isinstance(key, str) else key
    return hashlib.sha256(b"ghlbridge-key-id\x00" + raw.strip()).hexdigest()[:12]


def generate_key() -> str:
    """A new random Fernet key, url-safe base64 text."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(text: str, source: str) -> list[bytes]:
    """Split comma/whitespace-separated Fernet keys; raise ``KeyFileError`` naming ``source``."""
    parts = [p for p in text.replace(",", " ").split() if p]
    keys: list[bytes] = []
    for index, part in enumerate(parts, start=1):
        raw = part.encode("ascii", errors="replace")
        try:
            Fernet(raw)
        except ValueError:
            raise KeyFileError(
                f"{source}: key #{index} is not a valid Fernet key "
                "(expected 32 bytes, url-safe base64; make one with "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            ) from None
        if raw not in keys:
            keys.append(raw)
    return keys


@dataclass(frozen=True)
class RotationResult:
    """What a rotation did; ``new_key``/``env_value`` are set only when keys come from env."""

    new_key_id: str
    retired_key_ids: tuple[str, ...]
    rows_reencrypted: int
    message: str
    new_key: str | None = field(default=None, repr=False)
    env_value: str | None = field(default=None, repr=False)


class Vault:
    """Encrypts and decrypts secrets with a MultiFernet; the first key encrypts.

    Thread-safe. A vault backed by files notices when another process rotates the key
    (it re-reads the key files when they change), so it never encrypts with a retired key
    for longer than one write.
    """

    def __init__(
        self,
        keys: Sequence[str | bytes],
        *,
        home: Path | None = None,
        source: Literal["memory", "env", "file"] = "memory",
        env_keys: Sequence[bytes] = (),
    ) -> None:
        if not keys:
            raise KeyFileError("a vault needs at least one key")
        self._home = home
        self._source = source
        self._env_keys = list(env_keys)
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._set_keys([k.encode("ascii") if isinstance(k, str) else k for k in keys])

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, home: Path | None = None) -> Vault:
        """Load keys from ``GHLBRIDGE_SECRET_KEY`` or the key file in the home directory.

        Creates ``<home>/secret.key`` (0600) when neither exists. Refuses a key file that
        group or others can access.
        """
        environ = os.environ if env is None else env
        raw = environ.get(SECRET_KEY_ENV, "").strip()
        if raw:
            env_keys = parse_keys(raw, SECRET_KEY_ENV)
            if home is None:
                home = Path(environ.get(HOME_ENV) or DEFAULT_HOME).expanduser()
            pending = _read_key_file(home / PENDING_KEY_FILENAME, missing_ok=True)
            return cls(_dedupe(pending + env_keys), home=home, source="env", env_keys=env_keys)
        if home is None:
            home = home_dir(environ)
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        key_path = home / KEY_FILENAME
        if not key_path.exists():
            _create_exclusive(key_path, generate_key().encode("ascii") + b"\n")
        return cls(_load_file_keys(home), home=home, source="file")

    # -- keys ----------------------------------------------------------------------------

    @property
    def key_id(self) -> str:
        """Id of the key new ciphertexts are made with."""
        self._maybe_reload()
        return self._key_ids[0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Ids of every key this vault can decrypt with, newest first."""
        return tuple(self._key_ids)

    @property
    def source(self) -> str:
        """Where the keys came from: ``env``, ``file`` or ``memory``."""
        return self._source

    def __repr__(self) -> str:
        return f"Vault(source={self._source!r}, key_ids={self._key_ids!r})"

    def _set_keys(self, keys: list[bytes]) -> None:
        self._keys = _dedupe(keys)
        self._key_ids = [key_id_of(k) for k in self._keys]
        self._fernet = MultiFernet([Fernet(k) for k in self._keys])

    def _file_stamp(self) -> tuple[tuple[int, int, int] | None, ...]:
        if self._home is None or self._source == "memory":
            return ()
        names = (
            (PENDING_KEY_FILENAME,) if self._source == "env" else (KEY_FILENAME, OLD_KEY_FILENAME)
        )
        stamp: list[tuple[int, int, int] | None] = []
        for name in names:
            try:
                st = os.stat(self._home / name)
            except FileNotFoundError:
                stamp.append(None)
            else:
                stamp.append((st.st_ino, st.st_mtime_ns, st.st_size))
        return tuple(stamp)

    def _maybe_reload(self) -> bool:
        """Re-read the key files if another process changed them; True if keys changed."""
        if self._source == "memory":
            return False
        with self._lock:
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return False
            assert self._home is not None
            if self._source == "env":
                pending = _read_key_file(self._home / PENDING_KEY_FILENAME, missing_ok=True)
                keys = pending + self._env_keys
            elif (self._home / KEY_FILENAME).exists():
                keys = _load_file_keys(self._home)
            else:
                # The key file vanished: keep the keys we have rather than invent a new one.
                keys = self._keys
            changed = _dedupe(keys) != self._keys
            self._stamp = stamp
            self._set_keys(keys)
            return changed

    # -- encryption ----------------------------------------------------------------------

    def encrypt(self, data: bytes) -> bytes:
        """Encrypt ``data`` with the newest key; store the result beside :attr:`key_id`."""
        self._maybe_reload()
        return self._fernet.encrypt(data)

    def encrypt_with_id(self, data: bytes) -> tuple[bytes, str]:
        """Encrypt ``data`` and return ``(ciphertext, key id)`` made with the same key."""
        self._maybe_reload()
        with self._lock:
            fernet, key_id = self._fernet, self._key_ids[0]
        return fernet.encrypt(data), key_id

    def decrypt(self, token: bytes, key_id: str | None = None, *, what: str = "secret") -> bytes:
        """Decrypt ``token``; ``key_id`` (stored beside it) makes a missing key's error clear."""
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            pass
        if self._maybe_reload():
            with contextlib.suppress(InvalidToken):
                return self._fernet.decrypt(token)
        raise DecryptionError(self._decrypt_failure(key_id, what)) from None

    def encrypt_json(self, value: Any) -> tuple[bytes, str]:
        """Serialise ``value`` as JSON and encrypt it; returns ``(ciphertext, key id)``."""
        try:
            data = json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")
        except (TypeError, ValueError) as exc:
            # The message names a type, never a value, but drop the chained context anyway.
            raise ValueError(f"secret is not JSON-serialisable: {exc}") from None
        return self.encrypt_with_id(data)

    def decrypt_json(self, token: bytes, key_id: str | None = None, *, what: str = "secret") -> Any:
        """Decrypt ``token`` and parse its JSON."""
        return json.loads(self.decrypt(token, key_id, what=what))

    def _decrypt_failure(self, key_id: str | None, what: str) -> str:
        where = self._describe_source()
        known = ", ".join(self._key_ids)
        if key_id is not None and key_id not in self._key_ids:
            return (
                f"cannot decrypt {what}: it was encrypted with key id {key_id}, which is not "
                f"among the configured keys ({known}) from {where}. Configure the key with "
                f"id {key_id} (GHLBRIDGE_SECRET_KEY or the key file it came from)."
            )
        return (
            f"cannot decrypt {what} with the configured keys ({known}) from {where}: "
            "the ciphertext is corrupt or was made with another key"
        )

    def _describe_source(self) -> str:
        if self._source == "env":
            return SECRET_KEY_ENV
        if self._source == "file" and self._home is not None:
            return str(self._home / KEY_FILENAME)
        return "the vault's in-memory keys"

    # -- rotation ------------------------------------------------------------------------

    def rotate_key(self, engine: Engine) -> RotationResult:
        """Generate a new key and re-encrypt every ciphertext in the store with it.

        All rows listed in ``schema.ENCRYPTED_COLUMNS`` are re-encrypted in ONE transaction.
        Steps, and why no ciphertext becomes undecryptable if the process dies after any of
        them (a loader always reads ``secret.key`` AND ``secret.key.old``):

        Key file mode:
          1. ``secret.key.old`` := every key in use now (write temp, fsync, ``os.replace``,
             fsync dir). Crash: ``secret.key`` unchanged, data readable.
          2. Begin the transaction, decrypt every row with the current keys (any failure
             aborts here, nothing changed), write it back encrypted with the new key.
          3. ``secret.key`` := new key (atomic replace as in 1), BEFORE the commit.
             Crash before the commit: rows still under old keys, which ``secret.key.old``
             holds. Other processes notice the new file and encrypt with the new key,
             which ``secret.key`` holds.
          4. Commit. Crash after: rows under the new key in ``secret.key``.
          5. Sweep: re-encrypt rows that another process wrote with an old key while the
             rotation ran (their key id is not the new one).
          6. Delete ``secret.key.old``: only now is no row under an old key.
        If the commit fails, ``secret.key.old`` is kept (it may still be needed) and the
        next rotation folds its keys in.

        Env mode (``GHLBRIDGE_SECRET_KEY``): the new key goes to ``secret.key.pending``
        (0600, atomic) BEFORE the transaction, so a crash after the commit cannot lose it;
        every vault also loads the pending file. After the commit, the returned
        ``env_value`` (new key first, then the old ones) must be set in every process's
        environment; then ``secret.key.pending`` can be deleted.

        Concurrent rotations are serialised with a lock file in the home directory. One race
        remains: a process that encrypted with an old key before step 3 but commits after
        step 5 leaves a row under a retired key (its stored key id names which); rotate while
        no other process is writing secrets to rule that out.
        """
        if self._source == "memory" or self._home is None:
            raise RotationError("this vault has no key file or env source to rotate")
        self._home.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _exclusive_file_lock(self._home / ROTATION_LOCK_FILENAME):
            self._maybe_reload()
            if self._source == "env":
                return self._rotate_env(engine)
            return self._rotate_file(engine)

    def _rotate_file(self, engine: Engine) -> RotationResult:
        assert self._home is not None
        home, old_keys = self._home, list(self._keys)
        old_path, key_path = home / OLD_KEY_FILENAME, home / KEY_FILENAME
        old_ids = tuple(self._key_ids)
        new_key = generate_key().encode("ascii")
        new_id = key_id_of(new_key)
        old_file_existed = old_path.exists()
        _atomic_write(old_path, b"\n".join(old_keys) + b"\n")  # step 1
        key_replaced = False
        try:
            with begin_write(engine) as conn:
                count = _reencrypt(conn, self._fernet, Fernet(new_key), new_id)  # step 2
                # From here on the new key may be in place (even if the write reports an
                # error after its rename), so secret.key.old must survive any failure.
                key_replaced = True
                _atomic_write(key_path, new_key + b"\n")  # step 3
            # step 4 happened when the block above exited without an exception
        except BaseException:
            if not key_replaced and not old_file_existed:
                old_path.unlink(missing_ok=True)
                _fsync_dir(home)
            raise
        self._set_keys([new_key, *old_keys])
        self._stamp = self._file_stamp()
        with begin_write(engine) as conn:  # step 5
            count += _reencrypt(conn, self._fernet, Fernet(new_key), new_id, skip_key_id=new_id)
        old_path.unlink(missing_ok=True)  # step 6
        _fsync_dir(home)
        self._set_keys([new_key])
        self._stamp = self._file_stamp()
        return RotationResult(
            new_key_id=new_id,
            retired_key_ids=old_ids,
            rows_reencrypted=count,
            message=f"rotated to key {new_id} in {key_path}; {count} ciphertexts re-encrypted",
        )

    def _rotate_env(self, engine: Engine) -> RotationResult:
        assert self._home is not None
        pending_path = self._home / PENDING_KEY_FILENAME
        old_ids = tuple(self._key_ids)
        previous_pending = _read_key_file(pending_path, missing_ok=True)
        new_key = generate_key().encode("ascii")
        new_id = key_id_of(new_key)
        _atomic_write(pending_path, b"\n".join([new_key, *previous_pending]) + b"\n")
        with begin_write(engine) as conn:
            count = _reencrypt(conn, self._fernet, Fernet(new_key), new_id)
        self._set_keys([new_key, *self._keys])
        self._stamp = self._file_stamp()
        with begin_write(engine) as conn:
            count += _reencrypt(conn, self._fernet, Fernet(new_key), new_id, skip_key_id=new_id)
        env_keys = _dedupe([new_key, *self._env_keys])
        env_value = ",".join(k.decode("ascii") for k in env_keys)
        message = (
            f"rotated to key {new_id}; {count} ciphertexts re-encrypted. "
            f"{SECRET_KEY_ENV} must now be updated: set it to the new value (new key first, "
            "then the old ones, for processes still running with the old value) in every "
            f"process's environment and restart them, then delete {pending_path}, which keeps "
            "the new key until then so nothing is lost if this process stops."
        )
        return RotationResult(
            new_key_id=new_id,
            retired_key_ids=old_ids,
            rows_reencrypted=count,
            message=message,
            new_key=new_key.decode("ascii"),
            env_value=env_value,
        )


def _reencrypt(
    conn: Connection,
    old: MultiFernet,
    new: Fernet,
    new_key_id: str,
    *,
    skip_key_id: str | None = None,
) -> int:
    """Re-encrypt every ciphertext in ``ENCRYPTED_COLUMNS``; return how many rows changed."""
    count = 0
    for spec in ENCRYPTED_COLUMNS:
        count += _reencrypt_column(conn, spec, old, new, new_key_id, skip_key_id)
    return count


def _reencrypt_column(
    conn: Connection,
    spec: EncryptedColumn,
    old: MultiFernet,
    new: Fernet,
    new_key_id: str,
    skip_key_id: str | None,
) -> int:
    table = spec.table
    pk_cols = list(table.primary_key.columns)
    cipher_col, key_col = table.c[spec.ciphertext], table.c[spec.key_id]
    query = select(*pk_cols, cipher_col, key_col)
    if skip_key_id is not None:
        query = query.where(key_col != skip_key_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    count = 0
    for row in conn.execute(query).all():
        pk_values = row[: len(pk_cols)]
        ciphertext, key_id = row[len(pk_cols)], row[len(pk_cols) + 1]
        try:
            plaintext = old.decrypt(bytes(ciphertext))
        except InvalidToken:
            ident = ", ".join(f"{c.name}={v}" for c, v in zip(pk_cols, pk_values, strict=True))
            raise RotationError(
                f"rotation aborted, nothing changed: cannot decrypt {table.name} row "
                f"({ident}) made with key id {key_id}; configure that key and retry"
            ) from None
        conn.execute(
            update(table)
            .where(*[c == v for c, v in zip(pk_cols, pk_values, strict=True)])
            .values({spec.ciphertext: new.encrypt(plaintext), spec.key_id: new_key_id})
        )
        count += 1
    return count


# -- key files -----------------------------------------------------------------------------


def _dedupe(keys: Sequence[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for key in keys:
        if key not in out:
            out.append(key)
    return out


def _load_file_keys(home: Path) -> list[bytes]:
    primary = _read_key_file(home / KEY_FILENAME)
    if len(primary) != 1:
        raise KeyFileError(f"{home / KEY_FILENAME}: expected exactly one key, found {len(primary)}")
    return _dedupe(primary + _read_key_file(home / OLD_KEY_FILENAME, missing_ok=True))


def _read_key_file(path: Path, *, missing_ok: bool = False) -> list[bytes]:
    """Read keys from ``path``, refusing a file that group or others can access."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        if missing_ok:
            return []
        raise KeyFileError(f"key file {path} does not exist") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"key file {path} is not a regular file")
        if st.st_mode & 0o077:
            raise KeyFileError(
                f"key file {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); refusing to use it. "
                f"Run `chmod 600 {path}` if the key has not leaked, otherwise rotate it."
            )
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    text = b"".join(chunks).decode("ascii", errors="replace")
    keys = parse_keys(text, f"key file {path}")
    if not keys and not missing_ok:
        raise KeyFileError(f"key file {path} is empty")
    return keys


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(path: Path, data: bytes) -> Path:
    """Write ``data`` to a fresh 0600 temp file beside ``path`` and fsync it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def _atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably (temp + fsync + replace)."""
    tmp = _write_temp(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _create_exclusive(path: Path, data: bytes) -> bool:
    """Create ``path`` with ``data`` (0600) only if it does not exist; never half-written.

    The complete file is hard-linked into place, which fails if another process won the
    race; returns False then (the caller reads the winner's file).
    """
    tmp = _write_temp(path, data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        return _create_exclusive_nolink(path, data)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return True


def _create_exclusive_nolink(path: Path, data: bytes) -> bool:
    """Fallback for filesystems without hard links: O_CREAT|O_EXCL on the final name."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(path.parent)
    return True


@contextlib.contextmanager
def _exclusive_file_lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
