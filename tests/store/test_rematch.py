"""Tests of the store methods that re-match images in pages, on both backends."""

from __future__ import annotations

import datetime

import pytest

from chalicelib.store import Store, rematch
from chalicelib.store.rematch import RematchWrite
from tests.store.factories import new_image, summary, vuln_match

NOW = datetime.datetime(2026, 12, 4, tzinfo=datetime.UTC)
PACKAGE = {"name": "requests", "version": "2.19.0", "type": "python", "location": "/app"}


def _digest(index: int) -> str:
    return f"sha256:{index:064x}"


def _add(store: Store, index: int, lookups: list[tuple[str, str]] | None) -> str:
    digest = _digest(index)
    store.upsert_image(new_image(digest, tag=f"t{index}"))
    store.finish_analysis(digest, {"packages": [PACKAGE]}, summary())
    if lookups is not None:
        store.save_matches(digest, [], now=NOW, lookups=lookups)
    return digest


def test_rematch_candidates_by_changed_pair(store: Store) -> None:
    requests = _add(store, 1, [("pypi", "requests")])
    _add(store, 2, [("pypi", "jinja2")])
    npm = _add(store, 3, [("npm", "minimist")])
    unknown = _add(store, 4, None)

    changed = store.find_rematch_candidates(
        {"pypi": frozenset({"requests"}), "npm": None}, after=None, limit=10
    )
    everything = store.find_rematch_candidates(None, after=None, limit=10)

    assert changed == [requests, npm, unknown]
    assert everything == [_digest(index) for index in range(1, 5)]


def test_rematch_candidates_page_by_digest(store: Store) -> None:
    digests = [_add(store, index, [("pypi", "requests")]) for index in range(1, 6)]
    changes = {"pypi": frozenset({"requests"})}

    first = store.find_rematch_candidates(changes, after=None, limit=2)
    second = store.find_rematch_candidates(changes, after=first[-1], limit=2)
    last = store.find_rematch_candidates(changes, after=second[-1], limit=2)

    assert first == digests[:2]
    assert second == digests[2:4]
    assert last == digests[4:]


def test_rematch_candidates_whole_namespace_over_budget(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = _add(store, 1, [("pypi", "requests")])
    monkeypatch.setattr(rematch, "MAX_NAMES_PER_QUERY", 1)

    found = store.find_rematch_candidates(
        {"pypi": frozenset({"jinja2", "flask"})}, after=None, limit=10
    )

    assert found == [digest]


def test_new_analysis_clears_stored_lookups_flag(store: Store) -> None:
    digest = _add(store, 1, [("pypi", "requests")])

    store.finish_analysis(digest, {"packages": [PACKAGE]}, summary())

    [state] = store.load_match_states([digest])
    assert not state.lookups_stored


def test_load_match_states_reads_page(store: Store) -> None:
    digest = _add(store, 1, [("pypi", "requests")])
    match = vuln_match("CVE-2024-1")
    store.save_matches(digest, [match], now=NOW)

    states = store.load_match_states([digest, _digest(99)])

    assert [state.image.digest for state in states] == [digest]
    [state] = states
    assert state.image.tags[0].tag == "t1"
    assert [package.name for package in state.packages or []] == ["requests"]
    assert state.matches == [match]
    assert list(state.first_seen.values()) == [NOW]
    assert state.lookups_stored


def test_save_rematches_writes_page(store: Store) -> None:
    kept = vuln_match("CVE-2024-1")
    added = vuln_match("CVE-2024-2")
    digest = _add(store, 1, [("pypi", "requests")])
    store.save_matches(digest, [kept], now=NOW)
    other = _add(store, 2, None)
    later = NOW + datetime.timedelta(days=1)
    writes = [
        RematchWrite(digest, matches=[kept, added], update=([added], [], [])),
        RematchWrite(other, lookups=[("pypi", "jinja2")]),
        RematchWrite(_digest(99), matches=[added]),
    ]
    stored_first_seen = {digest: {"CVE-2024-1+openssl+/var/lib/dpkg/status": NOW}}

    store.save_rematches(writes, stored_first_seen, now=later)

    matches, first_seen = store.get_matches(digest)
    assert matches == sorted([kept, added], key=lambda match: match.vuln_id)
    assert first_seen == {
        "CVE-2024-1+openssl+/var/lib/dpkg/status": NOW,
        "CVE-2024-2+openssl+/var/lib/dpkg/status": later,
    }
    [update] = store.list_vuln_updates(digest)
    assert [match["vuln_id"] for match in update.added] == ["CVE-2024-2"]
    [state] = store.load_match_states([other])
    assert state.lookups_stored
    assert store.find_rematch_candidates(
        {"pypi": frozenset({"jinja2"})}, after=None, limit=10
    ) == [other]
