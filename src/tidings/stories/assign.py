"""Stories and keywords at ingest: what each new item gets (keywords, a fingerprint), and the story it joins.

    stage = StoryStage(cfg.stories, cfg.tags)
    keywords, fingerprint = stage.describe(entry, html)   # before the item is stored (IngestRow fields);
                                                           # describe_many: a feed's new items at once
    rows = stage.assign(store, rows, now)                  # in the feed's transaction, before its upsert:
                                                           # new items' stories, written with them
    stage.group(store, source_key, ids)                    # or after: stored items without a story get one

The story rule is near.Grouper's, with caps: candidates are the published items of a story sharing an LSH
band with the new one, published within WINDOW_SECONDS of it (per band the PER_BAND most recently
published; of those, the MAX_CANDIDATES sharing the most bands); of those that are one story with the new
item (similarity and figures), it joins the most similar (ties: earliest published, then smallest id);
with none, its own id is its story's id. Story ids never change, so a late member joins the story that
already exists. The band index is in memory (`index.BandIndex`), built and caught up from the store.
"""
from __future__ import annotations

import dataclasses
import functools
import html as htmllib
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from ..model import Entry, ItemState
from ..store import IngestRow, Store, StoryUpdates
from .index import BandIndex, signatures
from .near import RAW_CAP, SIG_PERMS, Fingerprint, fingerprints_of, read_lead, same_story, similarity

__all__ = ["StoriesOptions", "StoryStage", "TagsOptions", "plain_text"]


class StoriesOptions(Protocol):
    """What grouping reads of its settings (config.StoriesSettings is one): stories sit below config."""

    @property
    def enabled(self) -> bool: ...
    @property
    def threshold(self) -> float: ...


class TagsOptions(Protocol):
    """What tagging reads of its settings (config.TagsSettings is one)."""

    @property
    def enabled(self) -> bool: ...
    @property
    def max(self) -> int: ...

_TAG = re.compile(r"<[^>]*>")
TEXT_HEAD = 4000  # characters of HTML read at most for the lead: fingerprints and keywords use its start only
# Characters of plain text describe needs (near.read_lead reads RAW_CAP), and a margin for what a cut in the
# middle of a tag or an entity leaves at the end.
LEAD_TEXT = RAW_CAP + 24


def plain_text(html: str, limit: int = TEXT_HEAD, need: int = LEAD_TEXT) -> str:
    """The text at the start of an item's HTML (tags dropped, entities decoded, spaces collapsed): at least
    `need` characters of it where there are, read from at most `limit` characters of HTML."""
    size = min(2 * need, limit)
    while True:
        head = html[:size]
        last = size >= len(html) or size >= limit
        if not last and head.rfind("<") > head.rfind(">"):
            # a tag cut in two (or a lone "<": then the text is short and a wider window is read)
            head = head[:head.rfind("<")]
        if "<" in head:
            head = _TAG.sub(" ", head)
        if "&" in head:
            head = htmllib.unescape(head)
        text = " ".join(head.split())
        if len(text) >= need or last:
            return text
        size = min(4 * size, limit)


@functools.cache
def _keywords_of() -> Callable[..., list[str]]:
    from .keywords import keywords_of  # on the first item with tags on; jieba loads on the first Chinese one

    return keywords_of


class StoryStage:
    def __init__(self, stories: StoriesOptions, tags: TagsOptions):
        self.stories, self.tags = stories, tags
        self._index: BandIndex | None = None  # of the store last used (its story epoch)
        self._lock = threading.Lock()  # one assignment at a time in this process (the store's lock first)

    @property
    def enabled(self) -> bool:
        return self.stories.enabled or self.tags.enabled

    def describe(self, entry: Entry, html: str) -> tuple[tuple[str, ...], bytes | None]:
        """(keywords, fingerprint bytes) of an item about to be stored."""
        return self.describe_many([(entry, html)])[0]

    def describe_many(self, items: Sequence[tuple[Entry, str]]) -> list[tuple[tuple[str, ...], bytes | None]]:
        """`describe` of each (entry, html), the same values. Each step runs over all items before the next
        (a feed's new items at once): interleaved per item, the steps evict one another's code and tables
        from the CPU's caches, which cost a third more time (docs/benchmarks.md, session 8)."""
        texts = [plain_text(html or e.content) for e, html in items]
        leads = [read_lead(e.title, text) for (e, _), text in zip(items, texts)]  # normalised once, read by both
        words: list[tuple[str, ...]] = [()] * len(leads)
        if self.tags.enabled:
            keywords_of, top = _keywords_of(), self.tags.max
            words = [tuple(keywords_of(lead, max_tags=top)) for lead in leads]
        fps: list[bytes | None] = [None] * len(leads)
        if self.stories.enabled:
            fps = [fp.to_bytes() for fp in fingerprints_of(leads)]
        return list(zip(words, fps))

    def assign(self, store: Store, rows: Sequence[IngestRow], now: float | None = None) -> list[IngestRow]:
        """`rows` with a story for each published one that has a fingerprint and none yet, before they are
        stored (in the transaction that stores them: the store writes the story with the item). `now` is the
        published time of undated items, as upsert_entries gives them."""
        rows = list(rows)
        todo = [k for k, r in enumerate(rows) if r.fingerprint is not None and r.story is None
                and r.state == ItemState.PUBLISHED]
        if not self.stories.enabled or not todo:
            return rows
        when = now or time.time()
        items = []
        for k in todo:
            e = rows[k].entry
            items.append((e.id, e.published.timestamp() if e.published else when, rows[k].fingerprint or b""))
        for k, story in zip(todo, self._place(store, items)):
            rows[k] = dataclasses.replace(rows[k], story=story)
        return rows

    def group(self, store: Store, source_key: str, ids: Sequence[str]) -> int:
        """Give each stored item of `ids` that has no story yet its story; returns how many joined a story
        already there."""
        if not self.stories.enabled or not ids:
            return 0
        with store.transaction():
            items = store.ungrouped(source_key, ids)
            if not items:
                return 0
            stories = self._place(store, [(u.id, u.published, u.fingerprint) for u in items])
            store.set_stories(source_key, [(u.id, story) for u, story in zip(items, stories)])
        return sum(story != u.id for u, story in zip(items, stories))

    def _place(self, store: Store, given: list[tuple[str, float, bytes]]) -> list[str]:
        """The story of each (id, published, fingerprint), in the order given; they are taken in order of
        (published, id), and an earlier one can be a later one's candidate."""
        order = sorted(range(len(given)), key=lambda k: (given[k][1], given[k][0]))
        items = [given[k] for k in order]
        fps = [Fingerprint.from_bytes(fp) for _, _, fp in items]
        story = [item_id for item_id, _, _ in items]
        with store.transaction():
            after = self._index.seq if self._index is not None else None
            updates = store.story_updates(after)  # first: this takes the store's story lock
            with self._lock:
                index = self._sync(store, updates, after)
                live = [k for k, fp in enumerate(fps) if not fp.empty]
                if not live:
                    return [item_id for item_id, _, _ in given]
                pubs = np.array([items[k][1] for k in live], np.float64)
                index.load_days(pubs.tolist(), store.grouped_between)
                found = index.candidates(signatures([fps[k] for k in live]), pubs)
            maybe = found.equal >= self.stories.threshold * SIG_PERMS  # the others are below the threshold
            item, seq = found.item[maybe].tolist(), found.seq[maybe].tolist()
            stored = {c.seq: c for c in store.story_candidates([q for q in seq if q >= 0])} if seq else {}
        pairs: dict[int, list[int]] = {}
        for j, q in zip(item, seq):
            pairs.setdefault(j, []).append(q)
        for j, k in enumerate(live):
            best: tuple[tuple[float, float, str], str] | None = None
            for q in pairs.get(j, ()):
                if q < 0:  # an earlier item of this batch
                    i = live[-1 - q]
                    other_id, other_pub, other_story, other = items[i][0], items[i][1], story[i], fps[i]
                elif (c := stored.get(q)) is not None:  # still published
                    other_id, other_pub, other_story = c.id, c.published, c.story
                    other = Fingerprint.from_bytes(c.fingerprint)
                else:
                    continue
                if not same_story(fps[k], other, self.stories.threshold):
                    continue
                rank = (-similarity(fps[k], other), other_pub, other_id)
                if best is None or rank < best[0]:
                    best = (rank, other_story)
            if best is not None:
                story[k] = best[1]
        out = [""] * len(given)
        for k, s in zip(order, story):
            out[k] = s
        return out

    def _sync(self, store: Store, updates: StoryUpdates, after: int | None) -> BandIndex:
        """The index of this store, caught up with the stories given since it last looked."""
        index = self._index
        if index is None or index.epoch != updates.epoch or index.seq > updates.last:
            self._index = BandIndex(updates.epoch, updates.last)  # new, or another store: days load as needed
            return self._index
        if after != index.seq:  # another thread of this process moved it meanwhile
            updates = store.story_updates(index.seq)
        index.catch_up(updates.last, updates.items)
        return index
