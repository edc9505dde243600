"""The REST API in-process: admin auth on every route but webhooks, OAuth and /healthz;
connections, flows, runs, events, catalog and metrics."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.server.conftest import ServerHarness, ghl_event

PUBLIC = {
    "/webhooks/ghl",
    "/webhooks/clickbank/{connection}",
    "/hooks/{flow}",
    "/oauth/start",
    "/oauth/callback",
    "/healthz",
}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "abcd", path)


async def test_every_route_but_webhooks_oauth_and_health_needs_the_admin_token(
    tmp_path: Path,
) -> None:
    async with ServerHarness(tmp_path, failed_login_limit="1000/minute") as h:
        await _every_route_needs_the_token(h)


async def _every_route_needs_the_token(h: ServerHarness) -> None:
    paths: dict[str, Any] = h.app.openapi()["paths"]
    guarded = [(m.upper(), p) for p, ops in paths.items() for m in ops if p not in PUBLIC]
    assert set(paths) >= PUBLIC and len(guarded) >= 20
    for method, path in guarded:
        for headers in ({}, {"Authorization": "Bearer ghlb_wrong"}, {"Authorization": "x"}):
            answer = await h.http.request(method, _concrete(path), headers=headers)
            assert answer.status_code == 401, (method, path, headers, answer.text)
            assert answer.headers["www-authenticate"] == "Bearer"
    for path in PUBLIC:  # the OpenAPI says which routes need the token
        assert all("security" not in op for op in paths[path].values())
    assert all("security" in paths[p][m.lower()] for m, p in guarded)
    assert (await h.http.get("/healthz")).json() == {
        "status": "ok",
        "database": "ok",
        "engine": "running",
    }
    assert (await h.http.get("/openapi.json")).status_code == 200
    assert (await h.http.get("/docs")).status_code == 200


async def test_repeated_bad_tokens_from_one_address_are_slowed_down(
    harness: ServerHarness,
) -> None:
    h = harness
    codes = [
        (await h.http.get("/api/flows", headers={"Authorization": "Bearer nope"})).status_code
        for _ in range(22)
    ]
    assert codes[:20] == [401] * 20 and codes[20:] == [429, 429]
    assert (await h.api("GET", "/api/flows")).status_code == 200  # the right token still works


async def test_connections_are_created_tested_listed_and_removed(harness: ServerHarness) -> None:
    h = harness
    await h.add_pit_connection("main")
    listed = (await h.api("GET", "/api/connections")).json()
    assert [(c["name"], c["auth_type"], c["location_id"]) for c in listed] == [
        ("main", "pit", h.sb.location_id)
    ]
    assert all("token" not in c and "secret" not in str(c) for c in listed)
    tested = (await h.api("POST", "/api/connections/main/test")).json()
    assert tested["ok"] is True and tested["error"] is None
    assert tested["location_id"] == h.sb.location_id
    assert tested["location_name"] == "Sandbox Location"
    assert tested["scopes_source"] == "declared" and "contacts.write" in tested["scopes"]
    again = await h.api(
        "POST", "/api/connections", json={"name": "main", "token": "t" * 20, "location_id": "L1"}
    )
    assert again.status_code == 409
    bad = await h.api("POST", "/api/connections", json={"name": "Bad Name", "token": "x"})
    assert bad.status_code == 422 and "input" not in bad.text
    assert (await h.api("DELETE", "/api/connections/main")).status_code == 204
    assert (await h.api("DELETE", "/api/connections/main")).status_code == 404
    assert (await h.api("POST", "/api/connections/main/test")).status_code == 404


async def test_a_connection_whose_token_ghl_refuses_tests_not_ok(harness: ServerHarness) -> None:
    h = harness
    created = await h.api(
        "POST",
        "/api/connections",
        json={"name": "stale", "token": "pit-revoked-000000", "location_id": h.sb.location_id},
    )
    assert created.status_code == 201
    tested = (await h.api("POST", "/api/connections/stale/test")).json()
    assert tested["ok"] is False and tested["error"]
    assert "pit-revoked-000000" not in str(tested)


async def _run_manual(h: ServerHarness, contact_id: str) -> dict[str, Any]:
    started = await h.api(
        "POST", "/api/flows/manual-read/run", json={"input": {"contactId": contact_id}}
    )
    assert started.status_code == 202, started.text
    (run_id,) = started.json()["run_ids"]
    await h.wait_runs("manual-read", len((await h.api("GET", "/api/runs")).json()))
    return dict((await h.api("GET", f"/api/runs/{run_id}")).json())


async def test_flows_are_listed_switched_off_and_on_and_run_now(harness: ServerHarness) -> None:
    h = harness
    await h.add_pit_connection()
    flows = (await h.api("GET", "/api/flows")).json()
    assert flows["problems"] == []
    by_name = {f["name"]: f for f in flows["flows"]}
    assert by_name["tag-new-contacts"]["trigger"] == "webhook"
    assert by_name["tag-new-contacts"]["event"] == "ContactCreate"
    assert by_name["manual-read"]["steps"] == ["read"] and by_name["manual-read"]["enabled"]

    off = await h.api("POST", "/api/flows/manual-read/disable")
    assert off.status_code == 200 and off.json()["enabled"] is False
    refused = await h.api("POST", "/api/flows/manual-read/run", json={"input": {}})
    assert refused.status_code == 409
    assert h.services.switches.all() == {"manual-read": False}
    on = await h.api("POST", "/api/flows/manual-read/enable")
    assert on.json()["enabled"] is True

    async with h.ghl() as ghl:
        made = await ghl.call("contacts.create_contact", body={"email": "c@example.com"})
    run = await _run_manual(h, made["contact"]["id"])
    assert run["status"] == "succeeded" and run["trigger"] == {"contactId": made["contact"]["id"]}
    (attempt,) = run["attempts"]
    assert attempt["step_id"] == "read" and attempt["status"] == "succeeded"
    assert attempt["output"]["contact"]["email"] == "c@example.com"
    assert (await h.api("POST", "/api/flows/nope/run")).status_code == 404


async def test_a_disabled_flow_stays_disabled_after_a_restart(tmp_path: Path) -> None:
    from tests.server.conftest import MANUAL_NOTE

    async with ServerHarness(tmp_path, flows={"manual-read": MANUAL_NOTE}) as h:
        assert (await h.api("POST", "/api/flows/manual-read/disable")).status_code == 200
    async with ServerHarness(tmp_path, flows={"manual-read": MANUAL_NOTE}) as again:
        flows = (await again.api("GET", "/api/flows")).json()["flows"]
        assert flows[0]["enabled"] is False
        assert "manual-read" not in again.services.engine.flows


async def test_runs_are_listed_with_filters_shown_and_a_dead_one_replayed(
    harness: ServerHarness,
) -> None:
    h = harness
    await h.add_pit_connection()
    dead = await _run_manual(h, "no-such-contact")
    assert dead["status"] == "dead" and dead["attempts"][0]["status"] == "failed"
    assert "404" in (dead["error"] or "") or "not found" in (dead["error"] or "").lower()
    listed = (await h.api("GET", "/api/runs", params={"status": "dead"})).json()
    assert [r["id"] for r in listed] == [dead["id"]]
    assert (await h.api("GET", "/api/runs", params={"status": "succeeded"})).json() == []
    assert (await h.api("GET", "/api/runs", params={"flow": "other"})).json() == []
    assert (await h.api("GET", "/api/runs", params={"status": "weird"})).status_code == 422
    prefix = dead["id"][:8]
    assert (await h.api("GET", f"/api/runs/{prefix}")).json()["id"] == dead["id"]

    replayed = await h.api("POST", f"/api/runs/{prefix}/replay")
    assert replayed.status_code == 202 and replayed.json()["status"] == "pending"
    runs = await h.wait_runs("manual-read")
    assert runs[0]["status"] == "dead" and runs[0]["attempt"] == 2
    assert (await h.api("POST", f"/api/runs/{dead['id']}/replay")).status_code == 202
    assert (await h.api("GET", "/api/runs/ffffffff")).status_code == 404


async def test_a_succeeded_run_is_not_replayed(harness: ServerHarness) -> None:
    h = harness
    await h.add_pit_connection()
    async with h.ghl() as ghl:
        made = await ghl.call("contacts.create_contact", body={"email": "d@example.com"})
    run = await _run_manual(h, made["contact"]["id"])
    answer = await h.api("POST", f"/api/runs/{run['id']}/replay")
    assert answer.status_code == 409 and "succeeded" in answer.json()["detail"]


async def test_events_are_listed_newest_first_with_filters(harness: ServerHarness) -> None:
    h = harness
    for i in range(3):
        event = ghl_event("NoteCreate", location_id=h.sb.location_id, id=f"n{i}")
        assert (await h.webhook(event)).status_code == 200
    await h.api("POST", "/api/flows/manual-read/run", json={"input": {"contactId": "x"}})
    events = (await h.api("GET", "/api/events")).json()
    assert [e["source"] for e in events] == ["manual", "ghl", "ghl", "ghl"]
    assert [e["payload"]["id"] for e in events[1:]] == ["n2", "n1", "n0"]
    ghl_only = (await h.api("GET", "/api/events", params={"source": "ghl", "limit": 2})).json()
    assert len(ghl_only) == 2
    one = (await h.api("GET", f"/api/events/{events[1]['id']}")).json()
    assert one["type"] == "NoteCreate"
    assert (
        await h.api("GET", f"/api/events/{'0' * 8}-0000-0000-0000-{'0' * 12}")
    ).status_code == 404


async def test_the_catalog_lists_and_shows_operations_and_curated_entries(
    harness: ServerHarness,
) -> None:
    h = harness
    ops = (await h.api("GET", "/api/catalog/operations")).json()
    assert len(ops) == 576
    contacts = (
        await h.api("GET", "/api/catalog/operations", params={"app": "contacts", "kind": "read"})
    ).json()
    assert contacts and all(o["app"] == "contacts" and o["kind"] == "read" for o in contacts)
    search = (await h.api("GET", "/api/catalog/operations", params={"q": "social tags"})).json()
    assert any(o["id"] == "social_media_posting.get_tags_by_ids" for o in search)
    op = (await h.api("GET", "/api/catalog/operations/contacts.get_contact")).json()
    assert op["version"] == "2021-07-28" and op["scopes"] == ["contacts.readonly"]
    assert op["params"][0]["in"] == "path" and op["params"][0]["name"] == "contactId"
    by_name = (await h.api("GET", "/api/catalog/operations/add_tags_to_contact")).json()
    assert by_name["id"] == "contacts.add_tags" and "add_tags_to_contact" in by_name["curated"]
    missing = await h.api("GET", "/api/catalog/operations/contacts.get_contactz")
    assert missing.status_code == 404 and "did you mean" in missing.json()["detail"]
    curated = (await h.api("GET", "/api/catalog/curated", params={"kind": "action"})).json()
    assert curated and all(c["kind"] == "action" for c in curated)
    events = (await h.api("GET", "/api/catalog/webhook-events")).json()
    assert "ContactCreate" in {e["type"] for e in events}


async def test_metrics_report_runs_failures_verification_and_rate_budgets(
    harness: ServerHarness,
) -> None:
    h = harness
    await h.add_pit_connection()
    await _run_manual(h, "missing-contact")  # dead: a failure
    await h.webhook(b"{}", headers={})  # unsigned
    answer = await h.api("GET", "/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = answer.text
    assert 'ghlbridge_runs{state="dead"} 1' in text
    assert "ghlbridge_run_failures 1" in text
    assert 'ghlbridge_webhook_verification_failures_total{source="ghl",reason="unsigned"} 1' in text
    assert re.search(
        rf'ghlbridge_rate_budget_used{{app="main",location="{h.sb.location_id}"}} \d+', text
    )
    assert f'ghlbridge_rate_budget_max{{app="main",location="{h.sb.location_id}"}} 100' in text
    assert re.search(
        r'ghlbridge_ghl_rate_limited_total\{connection="main",location="[^"]+"\} 0', text
    )
    assert "ghlbridge_step_retries_total 0" in text
    for line in text.splitlines():  # every sample line is `name{labels} number`
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[a-z_]+(\{[^}]*\})? -?[0-9.e+]+", line), line
