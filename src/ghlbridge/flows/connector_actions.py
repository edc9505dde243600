"""Connector actions of flow steps: ``http.request``, ``webhook.send``, ``clickbank.<action>``.

``http.request`` with a step ``connection`` goes through that stored ``http`` connection
(`HttpAppClient`: base URL, auth preset, default headers, retries, SSRF policy): ``path`` is
relative to the base URL, ``path_params`` fill its ``{name}`` segments (each escaped as one
segment), and the step's idempotency key is sent as ``Idempotency-Key``. Without a connection
it calls a plain ``url``, through the same SSRF guard: private, loopback and link-local
addresses are refused unless ``GHLBRIDGE_HTTP_ALLOW_PRIVATE`` allows them (``1``, or a comma
list of networks). ``response`` maps fields of the answer (`map_response` paths) into the
step's output.

``webhook.send`` POSTs ``json`` to ``url`` (or an http connection's base URL plus ``path``)
signed with ``secret`` (or the connection's hmac secret) as `OutboundWebhook` does; the
step's idempotency key is the delivery id, so every try is the same delivery.

``clickbank.<action>`` calls the ClickBank REST API with a stored ``clickbank`` connection's
API key; ``with`` holds the action's parameters (``all_pages: true`` reads every page of a
list action).

`input_problems` is the load-time check of a step's ``with`` for these actions.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlsplit

from ghlbridge.client.errors import ConnectError, TransportError
from ghlbridge.client.retry import RetryPolicy
from ghlbridge.client.transport import Transport
from ghlbridge.connectors.clickbank.api import BASE_URL_ENV, DEFAULT_BASE_URL, ClickBankClient
from ghlbridge.connectors.clickbank.endpoints import Endpoint
from ghlbridge.connectors.clickbank.errors import (
    ClickBankAPIError,
    ClickBankError,
    ClickBankRateLimitError,
    ClickBankServerError,
)
from ghlbridge.connectors.errors import ConnectorError
from ghlbridge.connectors.http import (
    AddressPolicy,
    BlockedAddressError,
    GuardedTransport,
    HmacAuth,
    HttpApp,
    HttpAppClient,
    HttpResult,
    OAuth2TokenError,
    OutboundWebhook,
    map_response,
)
from ghlbridge.flows.redact import SECRET_FIELD_NAMES
from ghlbridge.store.connections import Connection

HTTP_ACTION = "http.request"
WEBHOOK_ACTION = "webhook.send"
CLICKBANK_PREFIX = "clickbank."
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOW_PRIVATE_ENV = "GHLBRIDGE_HTTP_ALLOW_PRIVATE"
HTTP_INPUTS = frozenset(
    {
        "method",
        "url",
        "path",
        "path_params",
        "query",
        "headers",
        "json",
        "body",
        "timeout",
        "idempotency_key",
        "response",
    }
)
WEBHOOK_INPUTS = frozenset({"url", "path", "secret", "json", "timeout", "response"})
CLICKBANK_OPTIONS = frozenset({"all_pages", "max_pages"})
_BLOCKED_HINT = (
    "; a plain url reaches private addresses only with GHLBRIDGE_HTTP_ALLOW_PRIVATE=1 "
    "(or use an http connection stored with --allow-private)"
)
Problems = list[tuple[tuple[Any, ...], str]]


class StepError(Exception):
    """A step's action failed. `retryable`: trying again may help; `unknown_outcome`: the
    other side may have acted before the failure."""

    def __init__(
        self, message: str, *, retryable: bool = False, unknown_outcome: bool = False
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.unknown_outcome = unknown_outcome


class AppConnections(Protocol):
    """Where connector connections are looked up (a `ConnectionStore`)."""

    def get(self, name: str) -> Connection: ...


def url_policy(environ: Mapping[str, str] | None = None) -> AddressPolicy:
    """The SSRF policy of plain-``url`` requests, from ``GHLBRIDGE_HTTP_ALLOW_PRIVATE``."""
    raw = (os.environ if environ is None else environ).get(ALLOW_PRIVATE_ENV, "").strip()
    if raw.lower() in ("1", "true", "yes", "all"):
        return AddressPolicy(allow_private=True)
    networks = [n.strip() for n in raw.split(",") if n.strip()]
    return AddressPolicy(allow_networks=networks)


def url_transport() -> Transport:
    """The transport of plain-``url`` requests: SSRF-guarded by `url_policy`."""
    return GuardedTransport(url_policy())


# ------------------------------------------------------------------------- checks


def input_problems(
    kind: Literal["http", "webhook", "clickbank"],
    endpoint: Endpoint | None,
    with_: Mapping[str, Any],
    connection: str | None,
) -> Problems:
    """What is wrong with a connector step's ``with`` and ``connection``, found at load time."""
    out: Problems = []
    keys = {str(k) for k in with_}
    if kind == "clickbank":
        assert endpoint is not None
        if connection is None:
            out.append((("connection",), "a ClickBank action needs the step's `connection`"))
        takes = frozenset({*endpoint.params, *endpoint.path_params, *CLICKBANK_OPTIONS})
        for key in sorted(keys - takes):
            listed = ", ".join((*endpoint.path_params, *endpoint.params)) or "no parameters"
            out.append((("with", key), f"not a parameter of clickbank.{endpoint.action} "
                        f"(takes {listed})"))  # fmt: skip
        for key in (*endpoint.path_params, *endpoint.required):
            if key not in keys:
                out.append((("with",), f"clickbank.{endpoint.action} needs {key!r}"))
        if "all_pages" in keys and not endpoint.paged:
            out.append((("with", "all_pages"), f"clickbank.{endpoint.action} does not page"))
        return out
    name = HTTP_ACTION if kind == "http" else WEBHOOK_ACTION
    allowed: frozenset[str] = HTTP_INPUTS if kind == "http" else WEBHOOK_INPUTS
    for key in sorted(keys - allowed):
        known = ", ".join(sorted(allowed))
        out.append((("with", key), f"unknown input of {name} (known: {known})"))
    if connection is None and "url" not in keys:
        out.append((("with",), f"{name} needs `url`, or an http connection in `connection`"))
    if connection is not None and "url" in keys:
        out.append((("with", "url"), "give `url` or `connection`, not both (use `path`)"))
    if connection is None and ("path" in keys or "path_params" in keys):
        out.append((("with", "path"), "`path` is relative to a connection's base URL"))
    if "json" in keys and "body" in keys:
        out.append((("with", "body"), "give `json` or `body`, not both"))
    if kind == "webhook" and "json" not in keys:
        out.append((("with",), f"{name} needs `json` (the event)"))
    method = with_.get("method")
    if isinstance(method, str) and "{" not in method and method.upper() not in HTTP_METHODS:
        methods = ", ".join(HTTP_METHODS)
        out.append((("with", "method"), f"method {method!r} is not one of {methods}"))
    for key in ("path_params", "query", "headers", "response"):
        if key in with_ and not isinstance(with_[key], dict):
            out.append((("with", key), "must be a mapping"))
    response = with_.get("response")
    if isinstance(response, dict):
        for field, path in response.items():
            if not isinstance(path, str):
                out.append((("with", "response", field), "must be a path such as data.id"))
    return out


# ------------------------------------------------------------------------- performing


@dataclass
class _Cached:
    stamp: datetime
    value: Any


class ConnectorActions:
    """Performs the connector actions; keeps one client per connection (so an OAuth token
    or a rate budget lives as long as the engine) and the secrets it has seen."""

    def __init__(
        self,
        connections: AppConnections | None,
        *,
        url_transport: Transport,
        transport: Any = None,
    ) -> None:
        self._connections = connections
        self._url_transport = url_transport
        self._transport = transport  # tests only: () -> Transport replacing the guarded ones
        self._apps: dict[str, _Cached] = {}
        self._clickbank: dict[str, _Cached] = {}
        self._webhooks: dict[tuple[Any, ...], OutboundWebhook] = {}
        self._secrets: set[str] = set()

    def secrets(self) -> list[str]:
        return sorted(self._secrets)

    async def aclose(self) -> None:
        for cached in [*self._apps.values(), *self._clickbank.values()]:
            await cached.value.aclose()
        for hook in self._webhooks.values():
            await hook.aclose()
        self._apps.clear()
        self._clickbank.clear()
        self._webhooks.clear()

    # -- connections --------------------------------------------------------------------

    async def _connection(self, name: str, provider: str, action: str) -> Connection:
        if self._connections is None:
            raise StepError(f"{action}: connection {name!r}: no connection store")
        try:
            conn = await asyncio.to_thread(self._connections.get, name)
        except KeyError:
            raise StepError(f"{action}: no connection named {name!r}") from None
        if conn.provider != provider:
            raise StepError(
                f"{action}: connection {name!r} is a {conn.provider} connection, not {provider}"
            )
        return conn

    async def _app(self, name: str, action: str) -> tuple[HttpAppClient, HttpApp]:
        conn = await self._connection(name, "http", action)
        cached = self._apps.get(name)
        if cached is not None and cached.stamp == conn.updated_at:
            client: HttpAppClient = cached.value
            return client, client.app
        if cached is not None:
            await cached.value.aclose()
        try:
            app = HttpApp.from_dict(conn.secret())
        except ConnectorError as exc:
            raise StepError(f"{action}: connection {name!r}: {exc}") from None
        self._secrets.update(_app_secrets(app))
        client = HttpAppClient(app, transport=self._transport() if self._transport else None)
        self._apps[name] = _Cached(conn.updated_at, client)
        return client, app

    # -- http.request -------------------------------------------------------------------

    async def http_request(
        self,
        inputs: Mapping[str, Any],
        connection: str | None,
        idempotency_key: str,
        *,
        plan: list[dict[str, Any]] | None,
    ) -> Any:
        method = str(inputs.get("method") or "POST").upper()
        if method not in HTTP_METHODS:
            raise StepError(f"{HTTP_ACTION}: method {method!r} is not one of {HTTP_METHODS}")
        query = _mapping(inputs, "query", HTTP_ACTION)
        headers = {str(k): str(v) for k, v in _mapping(inputs, "headers", HTTP_ACTION).items()}
        path_params = _mapping(inputs, "path_params", HTTP_ACTION)
        key = _key(inputs.get("idempotency_key", True), idempotency_key)
        given = inputs.get("timeout")
        timeout = float(given) if given else None  # none given: the connection's
        if connection is not None:
            client, _ = await self._app(connection, HTTP_ACTION)
            path = str(inputs.get("path") or "")
            where = f"{connection}:{path or '/'}"
        else:
            client, path, url_query = self._url_client(inputs.get("url"), timeout or 30.0)
            query = {**url_query, **query}
            where = _shown(str(inputs.get("url")))
        json_value, content = _body(inputs, headers)
        if plan is not None and method not in ("GET", "HEAD"):
            planned = {
                "action": HTTP_ACTION,
                "connection": connection,
                "method": method,
                "url": inputs.get("url"),
                "path": path or None,
                "query": query,
                "headers": headers,
                "json": inputs.get("json"),
                "body": inputs.get("body"),
            }
            plan.append(planned)
            return {"dry_run": True, "would_send": planned}
        try:
            result = await client.request(
                method,
                path,
                path_params=path_params,
                query=query,
                headers=headers,
                json=json_value,
                content=content,
                idempotency_key=key,
                raise_for_status=False,
                timeout=timeout,
            )
        except Exception as exc:
            where = f"{HTTP_ACTION} {method} {where}"
            raise _connector_error(where, exc, url=connection is None) from None
        return _output(f"{HTTP_ACTION} {method} {where}", result, inputs.get("response"))

    def _url_client(self, url: Any, timeout: float) -> tuple[HttpAppClient, str, dict[str, Any]]:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise StepError(f"{HTTP_ACTION}: url must be an http(s) URL")
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}{parts.path}"
        try:
            app = HttpApp(base_url=base, timeout=timeout, retry=RetryPolicy(max_attempts=1))
        except ConnectorError as exc:
            raise StepError(f"{HTTP_ACTION}: url: {exc}") from None
        query: dict[str, Any] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            query.setdefault(name, []).append(value)
        # The URL is the whole target: the shared guarded transport carries it (not closed).
        return HttpAppClient(app, transport=self._url_transport), "", query

    # -- webhook.send -------------------------------------------------------------------

    async def webhook_send(
        self,
        inputs: Mapping[str, Any],
        connection: str | None,
        idempotency_key: str,
        *,
        plan: list[dict[str, Any]] | None,
    ) -> Any:
        secret = inputs.get("secret")
        if connection is not None:
            _, app = await self._app(connection, WEBHOOK_ACTION)
            path = str(inputs.get("path") or "")
            url = app.base_url.rstrip("/") + ("/" + path.lstrip("/") if path else "")
            if not secret and isinstance(app.auth, HmacAuth):
                secret = app.auth.secret
            allow_private, networks = app.allow_private, tuple(app.allow_networks)
        else:
            url = str(inputs.get("url") or "")
            env_policy = url_policy()
            allow_private = env_policy.allow_private
            networks = tuple(str(n) for n in env_policy.allow_networks)
        if not isinstance(secret, str) or not secret:
            raise StepError(
                f"{WEBHOOK_ACTION}: needs `secret` (or an http connection with hmac auth)"
            )
        self._secrets.add(secret)
        where = f"{WEBHOOK_ACTION} {_shown(url)}"
        if plan is not None:
            planned = {"action": WEBHOOK_ACTION, "url": url, "json": inputs.get("json")}
            plan.append(planned)
            return {"dry_run": True, "would_send": planned}
        timeout = float(inputs.get("timeout") or 15.0)
        cache_key = (url, secret, allow_private, networks, timeout)
        hook = self._webhooks.get(cache_key)
        if hook is None:
            try:
                hook = OutboundWebhook(
                    url,
                    secret,
                    allow_private=allow_private,
                    allow_networks=networks,
                    timeout=timeout,
                    transport=self._transport() if self._transport else None,
                )
            except ConnectorError as exc:
                raise StepError(f"{where}: {exc}") from None
            self._webhooks[cache_key] = hook
        try:
            result = await hook.send(inputs.get("json"), delivery_id=idempotency_key)
        except Exception as exc:
            raise _connector_error(where, exc, url=connection is None) from None
        output = _output(where, result, inputs.get("response"))
        return {**output, "delivery": idempotency_key}

    # -- clickbank.<action> -------------------------------------------------------------

    async def clickbank(
        self,
        endpoint: Endpoint,
        inputs: Mapping[str, Any],
        connection: str | None,
        *,
        plan: list[dict[str, Any]] | None,
    ) -> Any:
        action = CLICKBANK_PREFIX + endpoint.action
        if connection is None:
            raise StepError(f"{action}: needs the step's `connection` (a ClickBank connection)")
        params = {k: v for k, v in inputs.items() if k not in CLICKBANK_OPTIONS}
        if plan is not None and endpoint.kind == "write":
            planned = {"action": action, "connection": connection, "params": params}
            plan.append(planned)
            return {"dry_run": True, "would_call": planned}
        client = await self._clickbank_client(connection, action)
        try:
            if inputs.get("all_pages"):
                max_pages = int(inputs.get("max_pages") or 100)
                pages = client.paginate(endpoint.action, params, max_pages=max_pages)
                records = [r async for r in pages]
                return {"records": records, "count": len(records)}
            return await client.call(endpoint.action, params)
        except Exception as exc:
            write = endpoint.kind == "write"
            raise _connector_error(action, exc, url=False, write=write) from None

    async def _clickbank_client(self, name: str, action: str) -> ClickBankClient:
        conn = await self._connection(name, "clickbank", action)
        cached = self._clickbank.get(name)
        if cached is not None and cached.stamp == conn.updated_at:
            found: ClickBankClient = cached.value
            return found
        if cached is not None:
            await cached.value.aclose()
        secret = conn.secret()
        self._secrets.update(str(v) for v in secret.values() if isinstance(v, str) and v)
        base_url = os.environ.get(BASE_URL_ENV) or secret.get("base_url") or DEFAULT_BASE_URL
        try:
            client = ClickBankClient.from_secret(
                secret,
                base_url=str(base_url),
                transport=self._transport() if self._transport else None,
            )
        except ClickBankError as exc:
            raise StepError(f"{action}: connection {name!r}: {exc}") from None
        self._clickbank[name] = _Cached(conn.updated_at, client)
        return client


# ------------------------------------------------------------------------- helpers


def _mapping(inputs: Mapping[str, Any], key: str, action: str) -> dict[str, Any]:
    value = inputs.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise StepError(f"{action}: {key} must be a mapping")
    return dict(value)


def _key(setting: Any, step_key: str) -> str | None:
    """The Idempotency-Key to send: the step's (default), a given text, or none (false)."""
    if setting is False or setting is None:
        return None
    if isinstance(setting, str) and setting and setting.lower() != "true":
        return setting
    return step_key


def _body(inputs: Mapping[str, Any], headers: dict[str, str]) -> tuple[Any, bytes | None]:
    """(json, content) for `HttpAppClient.request`: `json` as JSON, `body` as text."""
    if "json" in inputs:
        value = inputs["json"]
        if value is None:
            headers.setdefault("Content-Type", "application/json")
            return None, b"null"
        return value, None
    raw = inputs.get("body")
    if raw is None:
        return None, None
    if isinstance(raw, str):
        return None, raw.encode("utf-8")
    headers.setdefault("Content-Type", "application/json")
    return None, json.dumps(raw, ensure_ascii=False).encode("utf-8")


def _output(where: str, result: HttpResult, mapping: Any) -> dict[str, Any]:
    """`{status, body[, mapped]}`, or a `StepError` for an error status."""
    if result.status >= 400:
        status = result.status
        raise StepError(
            f"{where}: HTTP {status}{_reason(result)}",
            retryable=status in (408, 425, 429) or status >= 500,
            unknown_outcome=status >= 500,
        )
    body: Any = result.json if result.json is not None else (result.text or None)
    output: dict[str, Any] = {"status": result.status, "body": body}
    if isinstance(mapping, Mapping) and mapping:
        output["mapped"] = map_response(result, {str(k): str(v) for k, v in mapping.items()})
    return output


def _reason(result: HttpResult) -> str:
    message: Any = None
    if isinstance(result.json, dict):
        message = result.json.get("message") or result.json.get("error")
    text = " ".join(str(message or result.text or "").split())[:200]
    return f": {text}" if text else ""


def _connector_error(where: str, exc: Exception, *, url: bool, write: bool = True) -> Exception:
    """Sort a connector failure into retry / give up, and whether the other side may have
    acted (`write`: the call could have changed something). Anything else (a bug) is
    returned as it is, for the executor to record."""
    if isinstance(exc, StepError):
        return exc
    if isinstance(exc, BlockedAddressError):
        return StepError(f"{where}: {exc}{_BLOCKED_HINT if url else ''}")
    if isinstance(exc, ConnectError):
        return StepError(f"{where}: {exc}", retryable=True)
    if isinstance(exc, TransportError):
        return StepError(f"{where}: {exc}", retryable=True, unknown_outcome=write)
    if isinstance(exc, OAuth2TokenError | ClickBankRateLimitError):
        return StepError(f"{where}: {exc}", retryable=True)
    if isinstance(exc, ClickBankServerError):
        return StepError(f"{where}: {exc}", retryable=True, unknown_outcome=write)
    if isinstance(exc, ClickBankAPIError):
        return StepError(f"{where}: {exc}", retryable=exc.status == 408)
    if isinstance(exc, ConnectorError | ValueError):
        return StepError(f"{where}: {exc}")
    return exc


def _shown(url: str) -> str:
    """A URL without its query (which may hold an API key)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else url


def _app_secrets(app: HttpApp) -> set[str]:
    found: set[str] = set()
    if app.auth is not None:
        for name in ("value", "token", "password", "client_secret", "secret"):
            value = getattr(app.auth, name, None)
            if isinstance(value, str) and value:
                found.add(value)
    for name, value in app.headers.items():
        if name.lower() in SECRET_FIELD_NAMES and value:
            found.add(value)
    return found


__all__ = [
    "ALLOW_PRIVATE_ENV",
    "CLICKBANK_PREFIX",
    "HTTP_ACTION",
    "HTTP_METHODS",
    "WEBHOOK_ACTION",
    "AppConnections",
    "ConnectorActions",
    "StepError",
    "input_problems",
    "url_policy",
    "url_transport",
]
