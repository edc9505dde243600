"""Seed data: a realistic agency built in a second or two from the seed.

`seed_agency` adds locations (each new one filled by every resource module's `SEEDERS`:
Social Planner tags, and whatever other modules seed), a pool of location tags, and contacts
spread unevenly over the locations, with unique emails and E.164 phones, addresses, sources,
tags and a few DND flags, stored in the shape `contacts.create_contact` stores. The same seed
gives the same agency.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ghlbridge.sandbox.handlers.contacts import CONTACTS
from ghlbridge.sandbox.handlers.location_tags import register_tags
from ghlbridge.sandbox.ids import derive_seed
from ghlbridge.sandbox.state import LocationState

if TYPE_CHECKING:
    from ghlbridge.sandbox.core import Sandbox


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Ashley Donald Kimberly Steven Emily Andrew Donna Paul "
    "Michelle Joshua Carol Kenneth Amanda Kevin Melissa Brian Deborah George Stephanie Timothy "
    "Rebecca Ronald Laura Jason Sharon Edward Cynthia Jeffrey Kathleen Ryan Amy Jacob Angela "
    "Gary Shirley Nicholas Brenda Eric Emma Jonathan Anna Stephen Pamela Larry Nicole Justin "
    "Samantha Scott Katherine Brandon Christine Benjamin Helen Samuel Debra Gregory Rachel "
    "Alexander Carolyn Patrick Janet Frank Maria Raymond Olivia Jack Heather Dennis Diane"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White "
    "Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres "
    "Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts "
    "Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales "
    "Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos"
)
CITIES = (
    ("Austin", "TX", "787", "512"),
    ("Denver", "CO", "802", "303"),
    ("Portland", "OR", "972", "503"),
    ("Nashville", "TN", "372", "615"),
    ("Phoenix", "AZ", "850", "602"),
    ("Tampa", "FL", "336", "813"),
    ("Raleigh", "NC", "276", "919"),
    ("Columbus", "OH", "432", "614"),
    ("San Diego", "CA", "921", "619"),
    ("Boise", "ID", "837", "208"),
    ("Madison", "WI", "537", "608"),
    ("Savannah", "GA", "314", "912"),
)
STREETS = _words("Oak Maple Pine Cedar Elm Lake Hill Main Park Sunset River Church Mill")
BUSINESSES = (
    "Dental",
    "Fitness",
    "Realty",
    "Med Spa",
    "Roofing",
    "Law Group",
    "Auto Care",
    "Chiropractic",
    "Home Services",
    "Insurance",
)
COMPANY_WORDS = _words("Acme Summit Bright Blue Peak North Prime Golden Apex Harbor Vista Pioneer")
COMPANY_KINDS = ("LLC", "Inc", "Co", "Group", "Partners", "Studio")
SOURCES = (
    "website form",
    "facebook ads",
    "google ads",
    "referral",
    "import",
    "walk-in",
    "instagram",
    "chat widget",
    "calendar booking",
)
TAGS = (
    "lead",
    "customer",
    "vip",
    "newsletter",
    "webinar",
    "hot lead",
    "cold lead",
    "follow up",
    "no show",
    "promo 2024",
    "black friday",
    "referral",
    "facebook",
    "google",
    "review request",
    "reactivation",
    "clickbank buyer",
    "trial",
    "churned",
    "appointment booked",
)
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "example.com")


@dataclass(frozen=True, slots=True)
class SeededLocation:
    id: str
    name: str
    token: str
    contacts: int


@dataclass(frozen=True, slots=True)
class SeedReport:
    locations: tuple[SeededLocation, ...]
    contacts: int
    tags: int
    seconds: float

    def summary(self) -> str:
        return (
            f"{len(self.locations)} locations, {self.contacts} contacts, "
            f"{self.tags} tags in {self.seconds:.2f} s"
        )


def seed_agency(sandbox: Sandbox, *, locations: int, contacts: int) -> SeedReport:
    """Add `locations - 1` locations to the sandbox's first one and `contacts` contacts."""
    started = time.perf_counter()
    rng = random.Random(derive_seed(sandbox.settings.seed, "seed-data"))
    cities = rng.sample(CITIES, k=min(locations, len(CITIES)))
    locs: list[tuple[LocationState, str]] = [(sandbox.location(), sandbox.location_token.value)]
    for i in range(1, locations):
        name = f"{cities[i % len(cities)][0]} {BUSINESSES[rng.randrange(len(BUSINESSES))]}"
        loc, pit = sandbox.add_location(name=name)
        locs.append((loc, pit.value))
    counts = _split(contacts, len(locs))
    made = 0
    for i, ((loc, _), count) in enumerate(zip(locs, counts, strict=True)):
        register_tags(loc, TAGS)
        city = cities[i % len(cities)]
        coll = loc.collection(CONTACTS)
        for _ in range(count):
            coll.create(_contact(rng, made, city))
            made += 1
    report = tuple(
        SeededLocation(loc.id, loc.name, token, count)
        for (loc, token), count in zip(locs, counts, strict=True)
    )
    return SeedReport(report, made, len(TAGS), time.perf_counter() - started)


def _split(total: int, parts: int) -> list[int]:
    """`total` over `parts` unevenly (1, 1/2, 1/3, ... weights), as agencies' accounts are."""
    weights = [1 / (k + 1) for k in range(parts)]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    counts[0] += total - sum(counts)
    return counts


def _contact(rng: random.Random, n: int, city: tuple[str, str, str, str]) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    name = f"{first} {last}"
    email = f"{first}.{last}{n}@{rng.choice(EMAIL_DOMAINS)}".lower()
    city_name, state, zip_prefix, area = city
    tags = sorted(rng.sample(TAGS, k=rng.choice((0, 1, 1, 2, 2, 3, 4))))
    record: dict[str, Any] = {
        "firstName": first,
        "lastName": last,
        "name": name,
        "email": email,
        "phone": f"+1{area}{n:07d}",
        "address1": f"{rng.randrange(10, 9999)} {rng.choice(STREETS)} St",
        "city": city_name,
        "state": state,
        "country": "US",
        "postalCode": f"{zip_prefix}{rng.randrange(100):02d}",
        "source": rng.choice(SOURCES),
        "tags": tags,
        "dnd": rng.random() < 0.05,
        "customFields": [],
        "type": "customer" if "customer" in tags else "lead",
        "firstNameLowerCase": first.lower(),
        "lastNameLowerCase": last.lower(),
        "fullNameLowerCase": name.lower(),
        "emailLowerCase": email,
    }
    if rng.random() < 0.4:
        kind = rng.choice(COMPANY_KINDS)
        record["companyName"] = f"{rng.choice(COMPANY_WORDS)} {last} {kind}"
    if rng.random() < 0.3:
        year, month, day = rng.randrange(1950, 2005), rng.randrange(1, 13), rng.randrange(1, 29)
        record["dateOfBirth"] = f"{year}-{month:02d}-{day:02d}T00:00:00.000Z"
    if rng.random() < 0.1:
        record["website"] = f"https://www.{last.lower()}{n}.example.com"
    return record
