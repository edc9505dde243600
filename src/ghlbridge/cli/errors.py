"""How the CLI reports failure: one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from ghlbridge.catalog import UnknownOperationError
from ghlbridge.client.errors import GHLError, ValidationError
from ghlbridge.connectors.errors import ConnectorError
from ghlbridge.store import (
    ConnectionExistsError,
    ConnectionNotFoundError,
    InvalidConnectionError,
    VaultError,
)

P = ParamSpec("P")
R = TypeVar("R")

EXIT_API = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input on the command line (a param, a body, a file)."""


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    sys.stderr.write(f"ghlbridge: error: {' '.join(message.split())}\n")
    return typer.Exit(code)


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the library's errors into the CLI's one-line reason and exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (
            UsageError,
            ValidationError,
            UnknownOperationError,
            ConnectionExistsError,
            InvalidConnectionError,
        ) as exc:
            raise fail(str(exc), EXIT_USAGE) from None
        except (ConnectionNotFoundError, VaultError) as exc:
            raise fail(str(exc).strip("'\""), EXIT_USAGE) from None
        except GHLError as exc:
            raise fail(str(exc), EXIT_API) from None
        except ConnectorError as exc:
            # Bad input (an undecryptable INS body, a bad setting) is a usage error; an app's
            # refusal or failure is an API error.
            raise fail(str(exc), EXIT_USAGE if isinstance(exc, ValueError) else EXIT_API) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None

    return wrapper
