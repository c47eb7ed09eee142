"""The Store's story methods, on both backends: ungrouped items, story sequence numbers and what the story
index reads by them (story_updates, grouped_between, story_candidates), set_stories, stories()."""
from __future__ import annotations

import dataclasses
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


def test_new_items_wait_for_a_story_then_are_found_by_their_sequence(store):
    a, b = _key(store, "a"), _key(store, "b")
    start = store.story_updates(None)
    assert start.items == [] and start.epoch
    store.upsert_entries([_row(a, "a1", 8, b"fp-a1", words=("央行", "利率")), _row(a, "a2", 9, None),
                          _row(a, "a3", 10, b"fp-a3", state=ItemState.FILTERED)])
    # only published items with a fingerprint and no story; oldest first
    assert [(u.id, u.fingerprint) for u in store.ungrouped(a, ["a1", "a2", "a3", "zz"])] == [("a1", b"fp-a1")]
    store.set_story(a, "a1", "a1")
    assert store.ungrouped(a, ["a1"]) == []
    after = store.story_updates(start.last)
    assert (after.epoch, after.last) == (start.epoch, start.last + 1)
    assert after.items == [(start.last + 1, _ts(8), b"fp-a1")]
    assert store.story_updates(after.last).items == [] and store.story_updates(None).items == []
    # a new item stored with its story takes the next number (items in order of published, then id)
    store.upsert_entries([_row(b, "b2", 12, b"fp-b2"), _row(b, "b1", 12, b"fp-b1"), _row(b, "b0", 13, None)])
    store.upsert_entries([
        dataclasses.replace(_row(b, "b1", 12, b"fp-b1"), story="a1"),  # already stored: its story is not set
        dataclasses.replace(_row(b, "b4", 11, b"fp-b4"), story="a1"),
        dataclasses.replace(_row(b, "b3", 11, b"fp-b3"), story="b3")])
    assert [(g.seq, g.fingerprint) for g in store.story_updates(after.last).items] == [
        (after.last + 1, b"fp-b3"), (after.last + 2, b"fp-b4")]
    assert store.grouped_between(_ts(8), _ts(11)) == [(start.last + 1, _ts(8), b"fp-a1")]
    assert sorted(g.seq for g in store.grouped_between(_ts(8), _ts(12))) == [start.last + 1, after.last + 1,
                                                                             after.last + 2]
    found = store.story_candidates([start.last + 1, after.last + 2, 999])
    assert sorted((c.seq, c.source_key, c.id, c.story, c.fingerprint, c.published) for c in found) == [
        (start.last + 1, a, "a1", "a1", b"fp-a1", _ts(8)), (after.last + 2, b, "b4", "a1", b"fp-b4", _ts(11))]
    store.set_stories(b, [("b2", "a1"), ("b1", "b1")])
    assert [g.seq for g in store.story_updates(after.last + 2).items] == [after.last + 3, after.last + 4]
    assert {k: [m.key for m in v] for k, v in store.stories().items()} == {
        "a1": [ItemKey(a, "a1"), ItemKey(b, "b4"), ItemKey(b, "b2")]}
    first = store.stories()["a1"][0]
    assert (first.title, first.link, first.category, first.source, first.published) == (
        "t a1", "http://x/a1", "c", "a", T0.replace(hour=8).timestamp())
    items = {i.id: i for i in store.iter_items()}
    assert items["a1"].story == items["b2"].story == "a1" and items["a2"].story == "" and items["b1"].story == "b1"
    assert items["a1"].keywords == ["央行", "利率"]


def test_the_story_sequence_survives_a_reopen_and_starts_over_in_an_emptied_store(store_factory):
    store = store_factory()
    store.sync_sources([Source(url="http://feeds.example/a", category="c", source="a", channel="")])
    a = _key(store, "a")
    store.upsert_entries([_row(a, f"a{k}", 8 + k, b"f") for k in range(3)])
    store.set_stories(a, [("a0", "a0"), ("a1", "a0")])
    before = store.story_updates(None)
    again = store_factory().story_updates(0)  # another connection (process) sees the same sequence
    assert (again.epoch, again.last) == (before.epoch, before.last) and len(again.items) == 2
    # pruned (or deleted) members are not read any more; their numbers are never given again
    store.set_state(a, "a1", ItemState.PRUNED)
    assert [g.seq for g in store.story_updates(0).items] == [before.last - 1]
    assert [c.id for c in store.story_candidates([before.last - 1, before.last])] == ["a0"]
    # filtered ones are (a filter may let them through again), but they are no candidate while filtered
    store.set_state(a, "a0", ItemState.FILTERED)
    assert [g.seq for g in store.story_updates(0).items] == [before.last - 1]
    assert [g.seq for g in store.grouped_between(0, 2e9)] == [before.last - 1]
    assert store.story_candidates([before.last - 1, before.last]) == []
    store.set_stories(a, [("a2", "a2")])
    assert store.story_updates(None).last == before.last + 1


def test_given_story_seqs_are_those_of_the_last_committed_transaction_that_gave_any(store):
    a = _key(store, "a")
    store.upsert_entries([dataclasses.replace(_row(a, "a2", 9, b"f2"), story="a1"),
                          dataclasses.replace(_row(a, "a1", 8, b"f1"), story="a1"), _row(a, "a3", 10, b"f3")])
    last = store.story_updates(None).last
    given = store.given_story_seqs()
    if not given:  # a store may give none (PostgreSQL): then StoryStage reads every batch back
        return
    assert given == {(a, "a1"): last - 1, (a, "a2"): last}
    store.set_state(a, "a3", ItemState.PUBLISHED)  # a transaction that gives none leaves them
    assert store.given_story_seqs() == given
    with pytest.raises(RuntimeError), store.transaction():
        store.set_stories(a, [("a3", "a3")])
        raise RuntimeError  # rolled back: the numbers it gave are not
    assert store.given_story_seqs() == {}
    store.set_stories(a, [("a3", "a3")])
    assert store.given_story_seqs() == {(a, "a3"): last + 1}


def test_stories_show_only_visible_members(store):
    a, b = _key(store, "a"), _key(store, "b")
    store.upsert_entries([_row(a, "a1", 8, b"x"), _row(b, "b1", 9, b"y"), _row(b, "b2", 10, b"z")])
    for key, item, hour in ((a, "a1", 8), (b, "b1", 9), (b, "b2", 10)):
        store.set_story(key, item, "a1", [1], _ts(hour))  # bands and published: ignored (callers before schema 7)
    store.set_state(a, "a1", ItemState.PRUNED)  # the first member is gone: the story lives on under its id
    assert {k: [m.key for m in v] for k, v in store.stories().items()} == {"a1": [ItemKey(b, "b1"), ItemKey(b, "b2")]}
    assert {c.id for c in store.story_candidates([g.seq for g in store.grouped_between(0, 2e9)])} == {"b1", "b2"}
    store.set_state(b, "b2", ItemState.PRUNED)
    assert store.stories() == {}  # one visible member is no story to show


def test_keywords_stay_outside_the_content_hash(store):
    a = _key(store, "a")
    store.upsert_entries([_row(a, "a1", 8, b"x", words=("一",))])
    # the same item again with other keywords: not changed, and its first keywords stay
    assert store.upsert_entries([_row(a, "a1", 8, None, words=("二",))]) == (0, 0)
    assert next(store.iter_items()).keywords == ["一"]


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


def test_without_keywords_tag_counts_are_empty_and_ties_stream_by_id_then_source(store):
    # (no item has keywords: the store answers without reading the items, as it does for a store built
    # with tags off; the same id at the same time in two sources streams in the date index's order)
    a, b = _key(store, "a"), _key(store, "b")
    store.upsert_entries([_row(b, "x1", 8, None), _row(a, "x1", 8, None), _row(a, "x0", 8, None)])
    assert store.tag_counts(1) == {}
    assert [(i.id, i.source_key) for i in store.iter_site_items(False)] == sorted([("x0", a), ("x1", a), ("x1", b)])
