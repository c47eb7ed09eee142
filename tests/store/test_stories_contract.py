"""The Store's story methods, on both backends: ungrouped items, candidates by band, set_story, stories()."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tidings.model import Entry, ItemState, Source
from tidings.store import IngestRow, ItemKey, Store

T0 = datetime(2024, 11, 1, 8, tzinfo=UTC)


@pytest.fixture
def store(store_factory) -> Store:
    s = store_factory()
    s.sync_sources([Source(url=f"http://feeds.example/{k}", category="c", source=k, channel="") for k in "ab"])
    return s


def _ts(hour: int) -> float:
    return T0.replace(hour=hour).timestamp()


def _key(store: Store, name: str) -> str:
    return next(h.key for h in store.source_health(0) if h.source == name)


def _row(key: str, item_id: str, hour: int, fp: bytes | None, state=ItemState.PUBLISHED, words=()) -> IngestRow:
    e = Entry(source_key=key, id=item_id, guid=item_id, link=f"http://x/{item_id}", title=f"t {item_id}",
              author="", published=T0.replace(hour=hour), content="", cover="")
    return IngestRow(e, f"<p>{item_id}</p>", state, False, tuple(words), fp)


def test_new_items_wait_for_a_story_then_are_found_by_their_bands(store):
    a, b = _key(store, "a"), _key(store, "b")
    store.upsert_entries([_row(a, "a1", 8, b"fp-a1", words=("央行", "利率")), _row(a, "a2", 9, None),
                          _row(a, "a3", 10, b"fp-a3", state=ItemState.FILTERED)])
    # only published items with a fingerprint and no story; oldest first
    assert [(u.id, u.fingerprint) for u in store.ungrouped(a, ["a1", "a2", "a3", "zz"])] == [("a1", b"fp-a1")]
    store.set_story(a, "a1", "a1", [11, -22], _ts(8))
    assert store.ungrouped(a, ["a1"]) == []
    store.upsert_entries([_row(b, "b1", 12, b"fp-b1")])
    ts = T0.replace(hour=12).timestamp()
    found = store.story_candidates([-22, 99], ts - 86400, ts + 86400)
    assert [(c.source_key, c.id, c.story, c.fingerprint) for c in found] == [(a, "a1", "a1", b"fp-a1")]
    assert store.story_candidates([99], ts - 86400, ts + 86400) == []
    assert store.story_candidates([11], ts, ts + 86400) == []  # outside the window
    store.set_story(b, "b1", "a1", [11], _ts(12))
    assert {k: [m.key for m in v] for k, v in store.stories().items()} == {"a1": [ItemKey(a, "a1"), ItemKey(b, "b1")]}
    first = store.stories()["a1"][0]
    assert (first.title, first.link, first.category, first.source, first.published) == (
        "t a1", "http://x/a1", "c", "a", T0.replace(hour=8).timestamp())
    items = {i.id: i for i in store.iter_items()}
    assert items["a1"].story == items["b1"].story == "a1" and items["a2"].story == ""
    assert items["a1"].keywords == ["央行", "利率"]


def test_stories_show_only_visible_members(store):
    a, b = _key(store, "a"), _key(store, "b")
    store.upsert_entries([_row(a, "a1", 8, b"x"), _row(b, "b1", 9, b"y"), _row(b, "b2", 10, b"z")])
    for key, item, hour in ((a, "a1", 8), (b, "b1", 9), (b, "b2", 10)):
        store.set_story(key, item, "a1", [1], _ts(hour))
    store.set_state(a, "a1", ItemState.PRUNED)  # the first member is gone: the story lives on under its id
    assert {k: [m.key for m in v] for k, v in store.stories().items()} == {"a1": [ItemKey(b, "b1"), ItemKey(b, "b2")]}
    ts = T0.timestamp()
    assert {c.id for c in store.story_candidates([1], ts - 86400, ts + 86400)} == {"b1", "b2"}
    store.set_state(b, "b2", ItemState.PRUNED)
    assert store.stories() == {}  # one visible member is no story to show


def test_keywords_stay_outside_the_content_hash(store):
    a = _key(store, "a")
    store.upsert_entries([_row(a, "a1", 8, b"x", words=("一",))])
    # the same item again with other keywords: not changed, and its first keywords stay
    assert store.upsert_entries([_row(a, "a1", 8, None, words=("二",))]) == (0, 0)
    assert next(store.iter_items()).keywords == ["一"]


def test_candidates_are_those_sharing_the_most_bands(store):
    a = _key(store, "a")
    store.upsert_entries([_row(a, f"a{k}", 8 + k, b"f") for k in range(5)])
    for k in range(5):
        store.set_story(a, f"a{k}", f"a{k}", list(range(k + 1)), _ts(8 + k))  # a4 shares 5 bands with [0..4], a0 one
    ts = T0.replace(hour=10).timestamp()
    found = store.story_candidates([0, 1, 2, 3, 4], ts - 86400, ts + 86400, limit=2)
    assert [c.id for c in found] == ["a4", "a3"]
    assert [c.id for c in store.story_candidates([0], ts - 86400, ts + 86400, limit=3)] == ["a0", "a1", "a2"]


def test_tag_counts_count_listed_items_only(store):
    a, b = _key(store, "a"), _key(store, "b")
    store.upsert_entries([_row(a, "a1", 8, b"x", words=("央行", "利率")), _row(a, "a2", 9, b"y", words=("央行",)),
                          _row(b, "b1", 10, b"z", words=("央行", "利率")), _row(b, "b2", 11, None, words=("股市",))])
    assert store.tag_counts(2) == {"央行": 3, "利率": 2}
    store.set_story(a, "a1", "a1", [1], _ts(8))
    store.set_story(b, "b1", "a1", [1], _ts(10))  # b1 is listed under a1 now
    assert store.tag_counts(1) == {"央行": 2, "利率": 1, "股市": 1}
    store.set_state(a, "a1", ItemState.PRUNED)  # then b1 is its story's first visible item
    assert store.tag_counts(1) == {"央行": 2, "利率": 1, "股市": 1}
    assert store.tag_counts(3) == {}
