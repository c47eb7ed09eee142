"""The Store's reads for incremental builds, on both backends: item_refs, story_refs, day_heads, source_paths
and site_names (test_contract.py and test_stories_contract.py cover the rest of the protocol)."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from tidings.model import Entry, ItemState
from tidings.store import ItemKey, ItemRef, Store

from .test_contract import NOW, T0, entry, row, source


@pytest.fixture
def store(store_factory) -> Store:
    s = store_factory()
    s.sync_sources([source(1), source(2)])
    return s


def _named(e: Entry, item_id: str) -> Entry:
    return dataclasses.replace(e, id=item_id)


def _by_key(refs: list[ItemRef]) -> dict[ItemKey, ItemRef]:
    out = {r.key: r for r in refs}
    assert len(out) == len(refs)  # each item once
    return out


def test_item_refs_visible_or_not_unknown_left_out(store):
    s1, s2 = source(1), source(2)
    a, b, c = entry(s1, 1), entry(s1, 2), entry(s2, 3)
    store.upsert_entries([row(a, keywords=("油价", "央行")), row(b, state=ItemState.FILTERED), row(c)], now=NOW)
    assert a.published is not None
    store.set_story(s1.key, a.id, a.id, [], a.published.timestamp())
    keys = [ItemKey(s1.key, a.id), ItemKey(s1.key, b.id), ItemKey(s2.key, c.id), ItemKey(s1.key, "nope"),
            ItemKey("https://nowhere.example.com/", a.id)]
    refs = _by_key(store.item_refs(keys))
    assert set(refs) == {ItemKey(s1.key, a.id), ItemKey(s1.key, b.id), ItemKey(s2.key, c.id)}
    ra = refs[ItemKey(s1.key, a.id)]
    assert (ra.published, ra.visible, ra.story, ra.keywords) == (a.published.timestamp(), True, a.id, ("油价", "央行"))
    assert refs[ItemKey(s1.key, b.id)].visible is False  # filtered
    assert (refs[ItemKey(s2.key, c.id)].visible, refs[ItemKey(s2.key, c.id)].story) == (True, "")
    store.sync_sources([s1])  # source 2 switched off: its items are stored, not visible
    assert _by_key(store.item_refs([ItemKey(s2.key, c.id)]))[ItemKey(s2.key, c.id)].visible is False
    assert store.item_refs([]) == []


def test_story_refs_are_the_visible_members(store):
    s1, s2 = source(1), source(2)
    a, b, c, d = entry(s1, 1), entry(s1, 2), entry(s2, 3), entry(s2, 4)
    store.upsert_entries([row(a), row(b, state=ItemState.FILTERED), row(c), row(d)], now=NOW)
    for src, e in ((s1, a), (s1, b), (s2, c)):
        assert e.published is not None
        store.set_story(src.key, e.id, a.id, [], e.published.timestamp())
    assert set(_by_key(store.story_refs([a.id, "no-such-story"]))) == {ItemKey(s1.key, a.id), ItemKey(s2.key, c.id)}
    assert all(r.visible and r.story == a.id for r in store.story_refs([a.id]))
    store.sync_sources([s1])
    assert set(_by_key(store.story_refs([a.id]))) == {ItemKey(s1.key, a.id)}
    assert store.story_refs([]) == []


def test_day_heads_count_visible_items_in_a_half_open_span(store):
    s1, s2 = source(1), source(2)
    es = [(_named(entry(s1, 1, published=T0), "a1"), ItemState.PUBLISHED),
          (_named(entry(s1, 2, published=T0 + timedelta(hours=1)), "a2"), ItemState.PUBLISHED),
          (_named(entry(s2, 3, published=T0 + timedelta(hours=2)), "b1"), ItemState.PUBLISHED),
          (_named(entry(s1, 4, published=T0 + timedelta(hours=3)), "c1"), ItemState.FILTERED),
          (_named(entry(s1, 5, published=T0 + timedelta(days=1)), "d1"), ItemState.PUBLISHED),
          (_named(entry(s1, 6, published=T0 - timedelta(seconds=1)), "e1"), ItemState.PUBLISHED)]
    store.upsert_entries([row(e, state=st) for e, st in es], now=NOW)
    since, until = T0.timestamp(), (T0 + timedelta(days=1)).timestamp()
    assert store.day_heads(since, until) == {"a": 2, "b": 1}  # one count per first character
    store.sync_sources([s1])
    assert store.day_heads(since, until) == {"a": 2}
    assert store.day_heads(until + 86400, until + 2 * 86400) == {}


def test_source_paths_of_active_sources(store):
    s1, s2 = source(1), source(2)
    assert store.source_paths() == {s1.key: ("金融", "源1", ""), s2.key: ("金融", "源2", "")}
    assert store.source_paths()[s1.key].category == "金融"
    store.sync_sources([dataclasses.replace(s1, category="科技", channel="频道")])
    assert store.source_paths() == {s1.key: ("科技", "源1", "频道")}


def test_site_names_are_the_recorded_sites(store):
    assert store.site_names() == []
    with store.snapshot():
        mark = store.site_journal_mark()
    store.save_site_build("/srv/b", mark, "{}")
    store.save_site_build("/srv/a", mark, "{}")
    store.save_site_build("/srv/b", mark, '{"again": 1}')
    assert store.site_names() == ["/srv/a", "/srv/b"]
    store.forget_site("/srv/a")
    assert store.site_names() == ["/srv/b"]
