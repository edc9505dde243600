"""schemathesis against the server's own OpenAPI, in-process: for every operation, valid and
invalid requests built from the schema (authenticated with the admin token) never get a 5xx.

The number of examples per operation is bounded (`EXAMPLES`) so the whole run stays well
under a minute; GHL is played by an in-process sandbox, so nothing leaves the process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from ghlbridge.client import ASGITransport
from ghlbridge.sandbox import create_app as create_sandbox
from ghlbridge.server import ServerSettings, create_app, services_of
from tests.server.conftest import MANUAL_NOTE, SANDBOX, TAG_NEW_CONTACTS, sandbox_settings

EXAMPLES = 25


def test_no_operation_answers_a_5xx_to_schema_generated_requests(tmp_path: Path) -> None:
    sandbox = create_sandbox(sandbox_settings())
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "a.yaml").write_text(TAG_NEW_CONTACTS)
    (flows / "b.yaml").write_text(MANUAL_NOTE)
    app = create_app(
        ServerSettings(
            database_url=f"sqlite:///{tmp_path / 'st.db'}",
            flows_dirs=(flows,),
            ghl_base_url=SANDBOX,
            marketplace_url=SANDBOX,
            webhook_rate_limit="100000/second",
            failed_login_limit="100000/second",
        ),
        ghl_transport=lambda: ASGITransport(cast(Any, sandbox)),
    )
    token = services_of(app).admin.ensure()
    auth = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    failures: list[str] = []
    statuses: set[int] = set()
    runs = 0
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: Any) -> None:
                case.headers = {**(case.headers or {}), **auth}
                response = case.call()
                statuses.add(response.status_code)
                assert response.status_code < 500, (
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )

            try:
                check()
            except Unsatisfiable:  # nothing to make invalid (an operation without inputs)
                assert mode is GenerationMode.NEGATIVE
            except AssertionError as exc:
                failures.append(str(exc).splitlines()[0])
            runs += 1
    assert failures == []
    assert runs == 2 * len(operations)
    assert {200, 201, 204, 404, 409, 422} <= statuses  # the token worked; real answers
