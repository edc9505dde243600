"""Look-ups on the packaged catalog: by id (with suggestions), by app, by text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ghlbridge.catalog import Catalog, Operation, UnknownOperationError, load_catalog


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_load_catalog_is_cached_and_complete(catalog: Catalog) -> None:
    assert load_catalog() is catalog
    assert len(catalog) == 576
    assert all(isinstance(op, Operation) for op in catalog)
    assert "contacts.get_contact" in catalog
    assert "contacts.nope" not in catalog


def test_get_known_operation(catalog: Catalog) -> None:
    op = catalog.get("contacts.get_contact")
    assert (op.method, op.path, op.version) == ("GET", "/contacts/{contactId}", "2021-07-28")
    assert op.param("contactId") is not None
    assert op.param("Version") is None


def test_get_unknown_operation_suggests_close_ids(catalog: Catalog) -> None:
    with pytest.raises(UnknownOperationError) as info:
        catalog.get("contacts.get_contcat")
    err = info.value
    assert err.op_id == "contacts.get_contcat"
    assert "contacts.get_contact" in err.suggestions
    assert "did you mean" in str(err) and "contacts.get_contact" in str(err)
    assert isinstance(err, LookupError)


def test_get_unknown_operation_without_close_matches(catalog: Catalog) -> None:
    with pytest.raises(UnknownOperationError) as info:
        catalog.get("zzzzzz")
    assert info.value.suggestions == []
    assert "did you mean" not in str(info.value)


def test_search_finds_social_tags(catalog: Catalog) -> None:
    hits = [op.id for op in catalog.search("tags social")]
    assert "social_media_posting.get_tags_by_ids" in hits
    assert all("social" in h for h in hits)
    assert catalog.search("TAGS Social") == catalog.search("tags social")
    assert catalog.search("no-such-word-anywhere") == []


def test_search_matches_paths_methods_and_scopes(catalog: Catalog) -> None:
    assert catalog.get("contacts.get_contact") in catalog.search("/contacts/{contactId} get")
    scoped = catalog.search("socialplanner/post.readonly")
    assert scoped and all("socialplanner/post.readonly" in op.scopes for op in scoped)


def test_by_app_and_apps(catalog: Catalog) -> None:
    apps = catalog.apps()
    assert apps == sorted(apps)
    assert "social_media_posting" in apps and "contacts" in apps
    contacts = catalog.by_app("contacts")
    assert len(contacts) == 32
    assert {op.app for op in contacts} == {"contacts"}
    assert len(catalog.by_app("social_media_posting")) == 40
    assert catalog.by_app("nope") == []
    assert sum(len(catalog.by_app(app)) for app in apps) == len(catalog)


def test_from_file_and_duplicate_ids(tmp_path: Path, catalog: Catalog) -> None:
    op = json.loads(
        next(
            line.rstrip(",")
            for line in (Path(__file__).parents[2] / "src/ghlbridge/catalog/data/catalog.json")
            .read_text(encoding="utf-8")
            .splitlines()
            if '"id":"contacts.get_contact"' in line
        )
    )
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"operations": [op]}), encoding="utf-8")
    small = Catalog.from_file(path)
    assert len(small) == 1 and small.get("contacts.get_contact") == catalog.get(
        "contacts.get_contact"
    )
    with pytest.raises(ValueError, match="duplicate"):
        Catalog([small.get("contacts.get_contact")] * 2)
