"""The index takes a batch this process grouped from the batch itself once the store has stored it
(StoryStage._sync with Store.given_story_seqs), instead of reading it back: the index must be the one the
read gives, item for item and run for run, after every feed, whether the feed was stored, rolled back and
stored again, or another process gave numbers in between."""
from __future__ import annotations

import random
from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.config import StoriesSettings, TagsSettings
from tidings.model import Entry, Source
from tidings.store import IngestRow, Store, open_store
from tidings.stories.assign import StoryStage
from tidings.stories.index import BandIndex

from .test_assign_generated import generated

SOURCE = Source(url="http://feeds.example/own", category="c", source="own", channel="")
OTHER = Source(url="http://feeds.example/other", category="c", source="other", channel="")


class Failed(Exception):
    pass


def described(stage: StoryStage, items: list[tuple[str, str, str, float]], source: Source) -> list[IngestRow]:
    rows = []
    for item_id, title, text, when in items:
        e = Entry(source_key=source.key, id=item_id, title=title, link=f"http://n.example/{item_id}", guid=item_id,
                  published=datetime.fromtimestamp(when, UTC), content=text)
        words, fp = stage.describe(e, f"<p>{text}</p>")
        rows.append(IngestRow(e, f"<p>{text}</p>", keywords=words, fingerprint=fp))
    return rows


def store_feed(stage: StoryStage, store: Store, rows: list[IngestRow], fail: bool = False) -> None:
    try:
        with store.transaction():
            store.upsert_entries(stage.assign(store, rows))
            if fail:
                raise Failed  # after the upsert: the numbers were taken, and are rolled back
    except Failed:
        pass


def state_of(index: BandIndex | None) -> tuple:
    assert index is not None
    n = index.n
    return (index.seq, n, sorted(index.days), index.pub[:n].tolist(), index.seqs[:n].tolist(),
            index.sig[:n].tobytes(), [(c.tobytes(), s.tobytes()) for c, s in index.runs],
            np.flatnonzero(index.posted).tolist())


def stories_of(store: Store) -> dict[str, str]:
    return {it.id: it.story for it in store.iter_items(bodies=False)}


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10**6), sizes=st.lists(st.integers(1, 12), min_size=1, max_size=6),
       failures=st.sets(st.integers(0, 40), max_size=4), others=st.sets(st.integers(0, 40), max_size=4))
def test_the_index_takes_its_own_batch_as_the_read_would(tmp_path_factory, seed, sizes, failures, others):
    items = generated(seed, 120)
    rng = random.Random(seed)
    where = tmp_path_factory.mktemp("own")
    fast, slow = open_store(where / "fast.db"), open_store(where / "slow.db")
    elsewhere = [open_store(where / "fast.db"), open_store(where / "slow.db")]  # another process on each
    try:
        for s in (fast, slow):
            s.sync_sources([SOURCE, OTHER])
        slow.given_story_seqs = dict  # type: ignore[method-assign]  # the reference: always read back
        stages = (StoryStage(StoriesSettings(), TagsSettings()), StoryStage(StoriesSettings(), TagsSettings()))
        elsewhere_stages = (StoryStage(StoriesSettings(), TagsSettings()), StoryStage(StoriesSettings(), TagsSettings()))
        at, feed = 0, 0
        while at < len(items):
            size = sizes[feed % len(sizes)]
            chunk, at = items[at:at + size], at + size
            if feed in others:  # another process groups this feed: the next lookup must read it
                for stage, s in zip(elsewhere_stages, elsewhere):
                    store_feed(stage, s, described(stage, chunk, OTHER))
            else:
                for fail in ([True, False] if feed in failures else [False]):
                    for stage, s in zip(stages, (fast, slow)):
                        store_feed(stage, s, described(stage, chunk, SOURCE), fail)
                    assert state_of(stages[0]._index) == state_of(stages[1]._index)
            feed += 1
            rng.random()
        stores_fast, stores_slow = stories_of(fast), stories_of(slow)
        assert stores_fast == stores_slow and len(stores_fast) == len(items)
    finally:
        for s in (fast, slow, *elsewhere):
            s.close()


def test_a_rolled_back_batch_is_not_in_the_index(tmp_path):
    """A failing upsert after assign, then another process takes as many numbers: the next lookup must read
    the store, which has none of the batch's items and all of the other process's."""
    items = generated(5, 41)
    stage, elsewhere = StoryStage(StoriesSettings(), TagsSettings()), StoryStage(StoriesSettings(), TagsSettings())
    with open_store(tmp_path / "s.db") as store, open_store(tmp_path / "s.db") as other:
        store.sync_sources([SOURCE, OTHER])
        store_feed(stage, store, described(stage, items[:10], SOURCE))
        store_feed(stage, store, described(stage, items[10:20], SOURCE), fail=True)
        assert store.given_story_seqs() == {} and store.count_items() == 10  # (none: rolled back)
        store_feed(elsewhere, other, described(elsewhere, items[20:30], OTHER))
        store_feed(stage, store, described(stage, items[30:40], SOURCE))
        store_feed(stage, store, described(stage, items[40:], SOURCE))  # its lookup takes the one before
        assert stage._index is not None
        n = stage._index.n
        held = set(zip(stage._index.seqs[:n].tolist(), stage._index.pub[:n].tolist()))
        stored = {(g.seq, g.published) for g in store.story_updates(0).items}
        assert held == stored - {max(stored)} and len(stored) == 31
