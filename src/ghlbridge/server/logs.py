"""What the server logs, and how secrets are kept out of it.

- The access log is ours (uvicorn's is off): method, path WITHOUT the query string (an OAuth
  callback's ``?code=`` must not reach a log), status, duration, peer.
- `RedactingFilter`, put on the log handlers by `ghlbridge serve`, masks every secret the
  server knows (connection tokens, the OAuth client secret, hook secrets) in every record,
  whichever library logged it. It is the second line: no code path logs a secret.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ghlbridge.flows.redact import Redactor

access_log = logging.getLogger("ghlbridge.server.access")


class AccessLog:
    """ASGI middleware: one INFO line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            client = scope.get("client")
            access_log.info(
                "%s %s %d %.1fms %s",
                scope.get("method", "-"),
                scope.get("path", "-"),
                status,
                (time.perf_counter() - started) * 1000,
                client[0] if client else "-",
            )


class RedactingFilter(logging.Filter):
    """Masks known secrets in a record's message and arguments (attach to handlers)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler
            return True
        clean = self.redactor.text(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, redacted, so the formatter does not print the raw one.
            formatter = logging.Formatter()
            record.exc_text = self.redactor.text(formatter.formatException(record.exc_info))
            record.exc_info = None
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


def add_redaction(redactor: Redactor, *loggers: logging.Logger) -> RedactingFilter:
    """Put one `RedactingFilter` on every handler of `loggers` (default: the root logger)."""
    found = loggers or (logging.getLogger(),)
    filt = RedactingFilter(redactor)
    for logger in found:
        for handler in logger.handlers:
            handler.addFilter(filt)
    return filt


__all__ = ["AccessLog", "RedactingFilter", "access_log", "add_redaction"]
