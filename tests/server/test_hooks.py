"""POST /hooks/{flow}: a generic inbound webhook signed with the flow's HMAC secret."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ghlbridge.connectors.http.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, sign_outbound
from tests.server.conftest import ServerHarness

SECRET = "hook-secret-5e6f7a8b9c0d1e2f"
ECHO = """\
name: echo
trigger:
  manual: {}
steps:
  - id: skip
    action: http.request
    if: false
    with: {url: "http://127.0.0.1:9/never"}
"""


def _signed(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    stamp = int(time.time() if at is None else at)
    return {
        SIGNATURE_HEADER: sign_outbound(body, secret, stamp),
        "content-type": "application/json",
    }


async def test_a_signed_hook_starts_its_flow_once_per_delivery(tmp_path: Path) -> None:
    async with ServerHarness(tmp_path, flows={"echo": ECHO}) as h:
        assert (await h.http.post("/hooks/echo", content=b"{}")).status_code == 404  # no secret
        put = await h.api("PUT", "/api/flows/echo/hook-secret", json={"secret": SECRET})
        assert put.status_code == 204
        assert (await h.api("GET", "/api/flows/echo")).json()["hook"] is True
        body = json.dumps({"order": 7}).encode()
        headers = {**_signed(body), DELIVERY_HEADER: "d-1"}
        first = await h.http.post("/hooks/echo", content=body, headers=headers)
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "accepted" and len(first.json()["run_ids"]) == 1
        again = await h.http.post("/hooks/echo", content=body, headers=headers)
        assert again.json()["status"] == "duplicate"
        (run,) = await h.wait_runs("echo")
        assert run["status"] == "succeeded" and run["trigger"] == {"order": 7}
        (event,) = (await h.api("GET", "/api/events", params={"source": "hook"})).json()
        assert event["flow"] == "echo" and event["payload"] == {"order": 7}
        listed = (await h.api("GET", "/api/flows/echo")).json()
        assert "secret" not in json.dumps(listed).lower().replace('"hook"', "")


async def test_bad_stale_or_missing_signatures_and_non_json_are_refused(tmp_path: Path) -> None:
    async with ServerHarness(tmp_path, flows={"echo": ECHO}) as h:
        await h.api("PUT", "/api/flows/echo/hook-secret", json={"secret": SECRET})
        body = b'{"a": 1}'
        cases = [
            ({"content-type": "application/json"}, body, 401),
            (_signed(body, secret="another-secret-0000000"), body, 401),
            (_signed(body, at=time.time() - 3600), body, 401),
            (_signed(body + b" "), body, 401),
            (_signed(b"not json"), b"not json", 400),
        ]
        for headers, sent, status in cases:
            answer = await h.http.post("/hooks/echo", content=sent, headers=headers)
            assert answer.status_code == status, answer.text
        assert (await h.api("GET", "/api/events")).json() == []
        short = await h.api("PUT", "/api/flows/echo/hook-secret", json={"secret": "tiny-Q"})
        assert short.status_code == 422 and "tiny-Q" not in short.text


async def test_a_disabled_flows_hook_answers_409_and_a_removed_one_404(tmp_path: Path) -> None:
    async with ServerHarness(tmp_path, flows={"echo": ECHO}) as h:
        await h.api("PUT", "/api/flows/echo/hook-secret", json={"secret": SECRET})
        await h.api("POST", "/api/flows/echo/disable")
        body = b"[1, 2]"
        assert (
            await h.http.post("/hooks/echo", content=body, headers=_signed(body))
        ).status_code == 409
        await h.api("POST", "/api/flows/echo/enable")
        ok = await h.http.post("/hooks/echo", content=body, headers=_signed(body))
        assert ok.status_code == 200
        (run,) = await h.wait_runs("echo")
        assert run["trigger"] == {"body": [1, 2]}
        assert (await h.api("DELETE", "/api/flows/echo/hook-secret")).status_code == 204
        assert (
            await h.http.post("/hooks/echo", content=body, headers=_signed(body))
        ).status_code == 404
