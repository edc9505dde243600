"""The root of every connector's errors, so callers (the CLI, the flow engine) catch one type.

ConnectorError
├── InsError          a ClickBank INS notification could not be read (clickbank/ins.py)
├── ClickBankError    the ClickBank REST API refused or failed a call (clickbank/errors.py)
└── HttpAppError      a generic HTTP app call or outbound webhook failed (http/errors.py)

Messages are one line, name what is wrong, and never contain a secret.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Root of the errors raised by ghlbridge.connectors."""
