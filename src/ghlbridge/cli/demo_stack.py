"""The stack ``ghlbridge demo`` runs in one process, with no credentials: the GHL sandbox
(seeded), the demo partner app ("Your App") and the full server (``ghlbridge serve``'s app,
flow engine and scheduler) on SQLite in ``GHLBRIDGE_HOME/demo``, wired together:

- the demo connections and template flows installed (`install_demo`), plus a ContactCreate
  webhook flow (`install_contact_webhook_flow`);
- the server reaches GHL at the sandbox and verifies webhooks with the sandbox's public keys;
  the sandbox sends its webhooks to the server's ``/webhooks/ghl``;
- the partner app asks for tag details through the server's signed ``/hooks/{flow}``.

`drive` then does what a user and the other apps would (posts, tags, a new location, a
ClickBank sale, a tag-details request, a new contact), `wait_for_runs` waits until every flow
has finished a run, and `report` gathers what happened. Every failure is a `DemoError` with a
one-line reason naming the step.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from ghlbridge.cli.serving import serving
from ghlbridge.client import GHLClient
from ghlbridge.connectors.clickbank import encrypt_notification
from ghlbridge.flows.engine import FlowEngine
from ghlbridge.flows.recipe import Recipe
from ghlbridge.flows.service import load_all
from ghlbridge.flows.triggers.polling import PollSpec
from ghlbridge.partner.app import (
    API_KEY_HEADER,
    DEFAULT_API_KEY,
    Partner,
    PartnerSettings,
    create_partner_app,
)
from ghlbridge.sandbox.app import create_app as create_sandbox_app
from ghlbridge.sandbox.app import sandbox_of
from ghlbridge.sandbox.core import Sandbox
from ghlbridge.sandbox.handlers.social_planner import add_social_tag, rename_social_tag
from ghlbridge.sandbox.settings import SandboxSettings
from ghlbridge.server import ServerSettings, Services, create_app, services_of
from ghlbridge.server.logs import RedactingFilter
from ghlbridge.server.runner import running
from ghlbridge.store import Vault, create_engine, migrate
from ghlbridge.store.settings import DATABASE_FILENAME
from ghlbridge.templates.demo import (
    CLICKBANK_CONNECTION,
    DEMO_CLICKBANK_SECRET,
    SandboxCredentials,
    install_contact_webhook_flow,
    install_demo,
)

SANDBOX_SEED = 7
EVERY = "10s"
"""The demo flows' poll and schedule interval (the shortest a recipe may have)."""
TAG_REQUEST_FLOW = "partner-tag-details-request"
PARTNER_KINDS = (
    "tag_details",
    "post_stats",
    "statistics",
    "location_tags",
    "tag_details_response",
    "webhook",
)
BUYER_EMAIL = "ana.buyer@example.com"
CONTACT_EMAIL = "dana.demo@example.com"
FINISHED = ("succeeded", "failed", "dead")
log = logging.getLogger("ghlbridge.demo")


class DemoError(Exception):
    """A step of the demo failed; the message is one line naming the step."""


@dataclass
class DemoStack:
    """Everything the demo started, and where it listens."""

    home: Path
    sandbox_url: str
    sandbox: Sandbox
    partner_url: str
    partner: Partner
    server_url: str
    services: Services
    admin_token: str
    flows: list[str]
    started: float = field(default_factory=time.monotonic)

    @property
    def engine(self) -> FlowEngine:
        return self.services.engine

    def ghl(self) -> GHLClient:
        """A client of the sandbox location, as a user acting in GHL."""
        return GHLClient(
            self.sandbox.location_token.value,
            base_url=self.sandbox_url,
            location_id=self.sandbox.location_id,
        )


@dataclass
class FlowRuns:
    name: str
    trigger: str
    counts: Counter[str]
    error: str | None = None
    """The latest error of a run that did not succeed."""

    @property
    def unfinished(self) -> int:
        return sum(n for status, n in self.counts.items() if status not in FINISHED)


@dataclass
class DemoReport:
    flows: list[FlowRuns]
    partner: dict[str, int]
    buyer: dict[str, Any] | None
    events: dict[str, int]
    webhooks_delivered: int
    seconds: float


@contextlib.contextmanager
def step(what: str) -> Iterator[None]:
    """Turn any failure inside into a `DemoError` naming `what`."""
    try:
        yield
    except DemoError:
        raise
    except Exception as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise DemoError(f"{what}: {text}") from None


def reset_home(home: Path) -> None:
    """Forget an earlier demo's database and flows (the sandbox is new each time, and its
    seeded ids are the same: old checkpoints and dedupe keys would hide the new events)."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    home.chmod(0o700)  # it holds the demo's key file and database
    for suffix in ("", "-wal", "-shm", "-journal"):
        (home / f"{DATABASE_FILENAME}{suffix}").unlink(missing_ok=True)
    flows = home / "flows"
    if flows.is_dir():
        for path in flows.iterdir():
            if path.suffix in (".yaml", ".yml"):
                path.unlink()


@contextlib.asynccontextmanager
async def demo_stack(home: Path, *, every: str = EVERY) -> AsyncIterator[DemoStack]:
    """Start the sandbox, the partner app and the server, wired together; stop them all
    (server first, so runs in flight finish) when the block ends."""
    async with contextlib.AsyncExitStack() as stack:
        with step("preparing the demo home"):
            reset_home(home)
            db_url = f"sqlite:///{home / DATABASE_FILENAME}"
            vault = Vault.from_env(home=home)
        with step("starting the sandbox"):
            sandbox_app = create_sandbox_app(SandboxSettings(seed=SANDBOX_SEED, seed_data=True))
            sb = sandbox_of(sandbox_app)
            stack.callback(sb.close)  # its webhook sender, once it stops serving
            sandbox_url = await stack.enter_async_context(serving(sandbox_app, signals=False))
            keys = await asyncio.to_thread(sb.webhooks.public_keys)
        with step("starting the partner app"):
            webhook_secret = secrets.token_urlsafe(24)
            partner_app = create_partner_app(PartnerSettings(webhook_secret=webhook_secret))
            partner: Partner = partner_app.state.partner
            partner_url = await stack.enter_async_context(serving(partner_app, signals=False))
        with step("installing the demo connections and flows"):
            db = create_engine(db_url)
            migrate(db)
            try:
                creds = SandboxCredentials(
                    location_id=sb.location_id,
                    location_token=sb.location_token.value,
                    company_id=sb.company_id,
                    oauth_client_id=sb.oauth_client.client_id,
                    oauth_client_secret=sb.oauth_client.client_secret,
                )
                names = await install_demo(
                    home, sandbox_url, partner_url, creds, every=every, db=db
                )
                names.append(
                    await install_contact_webhook_flow(home, partner_url, webhook_secret, db=db)
                )
            finally:
                db.dispose()
            recipes, problems = load_all([home / "flows"])
            if problems:
                raise DemoError(f"installing the demo flows: {problems[0]}")
        with step("starting the server"):
            settings = ServerSettings(
                port=0,
                database_url=db_url,
                ghl_base_url=sandbox_url,
                marketplace_url=sandbox_url,
                webhook_ed25519_key=keys.ed25519,
                webhook_rsa_key=keys.rsa,
            )
            app = create_app(settings, recipes=recipes, vault=vault)
            services = services_of(app)
            _redact_logs(services)
            token = services.admin.ensure() or services.admin.reset()
            served = await stack.enter_async_context(running(app, graceful_timeout=10))
        with step("wiring the sandbox and the partner app to the server"):
            sb.webhooks.add_url(f"{served.url}/webhooks/ghl")
            hook_secret = secrets.token_urlsafe(24)
            async with (
                aiohttp.ClientSession() as http,
                http.put(
                    f"{served.url}/api/flows/{TAG_REQUEST_FLOW}/hook-secret",
                    json={"secret": hook_secret},
                    headers={"Authorization": f"Bearer {token}"},
                ) as answer,
            ):
                if answer.status != 204:
                    raise DemoError(f"setting the hook secret: HTTP {answer.status}")
            partner.settings = dataclasses.replace(
                partner.settings,
                hook_url=f"{served.url}/hooks/{TAG_REQUEST_FLOW}",
                hook_secret=hook_secret,
            )
        yield DemoStack(
            home=home,
            sandbox_url=sandbox_url,
            sandbox=sb,
            partner_url=partner_url,
            partner=partner,
            server_url=served.url,
            services=services,
            admin_token=token,
            flows=names,
        )


def _redact_logs(services: Services) -> None:
    """Warnings and errors on stderr, every secret the server knows masked (as `serve`)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(services.redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


# -- waiting ----------------------------------------------------------------------------


async def baselines_taken(stack: DemoStack, timeout: float = 20.0) -> None:
    """Until every polling flow has recorded what exists (so later changes are news)."""
    engine = stack.engine
    keys: list[str] = []
    for recipe in engine.flows.values():
        poll = recipe.trigger.poll
        if poll is None:
            continue
        spec = PollSpec.resolve(
            recipe.name,
            poll.op,
            poll.with_,
            catalog=engine.catalog,
            curated=engine.curated,
            mode=poll.mode,
            id_field=poll.id_field,
            updated_field=poll.updated_field,
            every=poll.every,
        )
        keys += [spec.checkpoint_key(t) for t in await engine.targets(recipe)]

    def taken() -> bool:
        return all((engine.store.checkpoint(k) or {}).get("baseline_done") for k in keys)

    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(taken):
        if time.monotonic() > deadline:
            raise DemoError(f"the first polls did not finish within {timeout:.0f} s")
        await asyncio.sleep(0.1)


def _runs_by_flow(stack: DemoStack) -> dict[str, Counter[str]]:
    store = stack.services.flow_store
    return {
        name: Counter(r.status for r in store.list_runs(flow=name, limit=500))
        for name in stack.flows
    }


async def wait_for_runs(stack: DemoStack, timeout: float) -> None:
    """Until every flow has finished a run and every kind of delivery reached the partner,
    then (briefly) until no run is left in progress."""
    deadline = time.monotonic() + timeout
    while True:
        runs = await asyncio.to_thread(_runs_by_flow, stack)
        missing = [
            f"a run of {name}" for name, c in runs.items() if not any(c[s] for s in FINISHED)
        ]
        missing += [f"{k} at the partner" for k in PARTNER_KINDS if not stack.partner.received(k)]
        if not missing:
            break
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {', '.join(missing)}")
        await asyncio.sleep(0.25)
    settle = min(deadline, time.monotonic() + 5.0)
    while time.monotonic() < settle:
        runs = await asyncio.to_thread(_runs_by_flow, stack)
        if not any(n for c in runs.values() for s, n in c.items() if s not in FINISHED):
            return
        await asyncio.sleep(0.25)


# -- what the user and the other apps do ---------------------------------------------------


def demo_sale(receipt: str) -> dict[str, Any]:
    """A ClickBank SALE (INS 8.0) of two products, bought by `BUYER_EMAIL`."""
    return {
        "transactionTime": datetime.now(UTC).isoformat(timespec="seconds"),
        "receipt": receipt,
        "transactionType": "SALE",
        "vendor": "ghlbdemo",
        "role": "VENDOR",
        "paymentMethod": "VISA",
        "currency": "USD",
        "totalOrderAmount": 64.00,
        "totalAccountAmount": 47.30,
        "totalTaxAmount": 0.00,
        "totalShippingAmount": 0.00,
        "lineItems": [
            {
                "itemNo": "playbook",
                "productTitle": "The GHL Playbook",
                "lineItemType": "ORIGINAL",
                "quantity": 1,
                "productPrice": 37.00,
                "accountAmount": 27.30,
                "recurring": False,
                "shippable": False,
            },
            {
                "itemNo": "coaching",
                "productTitle": "Coaching call",
                "lineItemType": "BUMP",
                "quantity": 1,
                "productPrice": 27.00,
                "accountAmount": 20.00,
                "recurring": False,
                "shippable": False,
            },
        ],
        "customer": {
            "billing": {
                "firstName": "Ana",
                "lastName": "Buyer",
                "fullName": "Ana Buyer",
                "email": BUYER_EMAIL,
                "address": {"country": "US"},
            }
        },
        "version": 8.0,
        "attemptCount": 1,
    }


async def drive(stack: DemoStack, say: Callable[[str], object] = print) -> None:
    """Do what a GHL user, ClickBank and the partner app would; `say` reports each action."""
    sb = stack.sandbox
    async with stack.ghl() as ghl:
        with step("reading the Social Planner tags"):
            listed = await ghl.call("social_media_posting.get_tags_location_id", {})
            tags: list[dict[str, Any]] = (listed.get("results") or {}).get("tags") or []
            if not tags:
                raise DemoError("the sandbox location has no Social Planner tags")
        with step("adding and renaming Social Planner tags"):
            # GHL has no API for these (they are made in its UI): done in the sandbox's state.
            added = add_social_tag(sb.location(), "Summer Sale")
            old = tags[0]
            rename_social_tag(sb.location(), str(old["_id"]), f"{old['tag']} 2025")
            say(f"Social Planner: tag {added['tag']!r} added, {old['tag']!r} renamed")
        with step("publishing Social Planner posts"):
            accounts = await ghl.call("social_media_posting.get_account", {})
            account_ids = [a["id"] for a in accounts["results"]["accounts"][:2]]
            for n, text in enumerate(("We launch today", "Behind the scenes")):
                await ghl.call(
                    "social_media_posting.create_post",
                    body={
                        "accountIds": [account_ids[n % len(account_ids)]],
                        "summary": text,
                        "type": "post",
                        "userId": "demo-user",
                        "tags": ["Launch"],
                    },
                )
            say("Social Planner: 2 posts published (tagged 'Launch', a new tag)")
        with step("creating a contact"):
            await ghl.call(
                "contacts.create_contact",
                body={"firstName": "Dana", "lastName": "Demo", "email": CONTACT_EMAIL},
            )
            say(f"GHL: contact {CONTACT_EMAIL} created (ContactCreate webhook to the server)")
    with step("creating a location as the agency"):
        async with GHLClient(
            sb.agency_token.value, base_url=stack.sandbox_url, company_id=sb.company_id
        ) as agency:
            await agency.call("locations.create_location", body={"name": "Demo Clinic"})
        say("GHL agency: location 'Demo Clinic' created")
    async with aiohttp.ClientSession() as http:
        with step("posting a ClickBank SALE to the server"):
            receipt = "DEMO" + secrets.token_hex(4).upper()
            body = encrypt_notification(demo_sale(receipt), DEMO_CLICKBANK_SECRET)
            url = f"{stack.server_url}/webhooks/clickbank/{CLICKBANK_CONNECTION}"
            headers = {"Content-Type": "application/json"}
            async with http.post(url, data=body, headers=headers) as answer:
                if answer.status != 200:
                    raise DemoError(f"HTTP {answer.status}: {(await answer.text())[:200]}")
                ack = await answer.json()
            say(
                f"ClickBank: SALE {receipt} ({BUYER_EMAIL}) posted encrypted to "
                f"/webhooks/clickbank/{CLICKBANK_CONNECTION}: {ack['status']}, {ack['runs']} run"
            )
        with step("asking for tag details from the partner app"):
            ask = {"locationId": sb.location_id, "tagIds": [str(t["_id"]) for t in tags[:2]]}
            async with http.post(
                f"{stack.partner_url}/tag-details-request",
                json=ask,
                headers={API_KEY_HEADER: DEFAULT_API_KEY},
            ) as answer:
                if answer.status != 202:
                    raise DemoError(f"HTTP {answer.status}: {(await answer.text())[:200]}")
            say(f"partner app: asked for the details of {len(ask['tagIds'])} tags (signed hook)")


# -- what happened ----------------------------------------------------------------------


def trigger_text(recipe: Recipe) -> str:
    t = recipe.trigger
    if t.poll is not None:
        return f"poll {t.poll.op} every {t.poll.every:g} s"
    if t.webhook is not None:
        return f"GHL webhook {t.webhook.event}"
    if t.schedule is not None:
        return f"every {t.schedule.every:g} s" if t.schedule.every else f"cron {t.schedule.cron}"
    if t.clickbank is not None:
        return f"ClickBank INS ({t.clickbank.connection or 'any'})"
    return "signed hook / manual"


async def report(stack: DemoStack) -> DemoReport:
    def read() -> tuple[list[FlowRuns], dict[str, int]]:
        store = stack.services.flow_store
        flows = []
        for name in stack.flows:
            runs = store.list_runs(flow=name, limit=500)
            failed = [r for r in runs if r.status in ("failed", "dead") and r.error]
            flows.append(
                FlowRuns(
                    name=name,
                    trigger=trigger_text(stack.services.recipes[name]),
                    counts=Counter(r.status for r in runs),
                    error=failed[0].error if failed else None,
                )
            )
        events = Counter(e["source"] for e in store.list_events(limit=10_000))
        return flows, dict(sorted(events.items()))

    flows, events = await asyncio.to_thread(read)
    partner = Counter(r.kind for r in stack.partner.state.received())
    buyer = None
    with step("reading the ClickBank buyer's contact"):
        async with stack.ghl() as ghl:
            found = await ghl.call("contacts.get_duplicate_contact", {"email": BUYER_EMAIL})
        contact = (found or {}).get("contact")
        if isinstance(contact, dict):
            buyer = contact
    delivered = sum(1 for d in stack.sandbox.webhooks.deliveries() if d.status == "delivered")
    return DemoReport(
        flows=flows,
        partner={k: partner[k] for k in sorted(partner)},
        buyer=buyer,
        events=events,
        webhooks_delivered=delivered,
        seconds=time.monotonic() - stack.started,
    )


__all__ = [
    "PARTNER_KINDS",
    "DemoError",
    "DemoReport",
    "DemoStack",
    "FlowRuns",
    "baselines_taken",
    "demo_stack",
    "drive",
    "report",
    "reset_home",
    "wait_for_runs",
]
