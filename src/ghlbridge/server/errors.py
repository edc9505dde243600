"""How the server answers errors: ``{"detail": ...}`` always, nothing echoed back.

FastAPI's default 422 repeats the offending input, which may be a token or a secret; here a
validation error names the field and the problem only. An unexpected error is logged by
type and redacted message, and answered with a bare 500.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ghlbridge.flows.redact import Redactor
from ghlbridge.store import VaultError

log = logging.getLogger("ghlbridge.server")


def install_error_handlers(app: FastAPI, redactor: Redactor) -> None:
    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "loc": list(err.get("loc", ())),
                "msg": redactor.text(str(err.get("msg", ""))),
                "type": str(err.get("type", "")),
            }
            for err in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    async def vault_error(request: Request, exc: Exception) -> JSONResponse:
        # A missing or wrong key: the message names key ids and files, never key material.
        log.error("vault: %s", exc)
        return JSONResponse({"detail": f"credential vault: {exc}"}, status_code=500)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "%s %s failed: %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            redactor.text(str(exc))[:500],
        )
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(VaultError, vault_error)
    app.add_exception_handler(Exception, unexpected)


__all__ = ["install_error_handlers"]
