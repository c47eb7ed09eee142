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

import functools
import html as htmllib
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

import numpy as np

from ..model import Entry, ItemState
from ..store import IngestRow, Store, StoryCandidate, StoryUpdates
from .index import BandIndex, bucket_matrix
from .near import (
    EMPTY_SIG,
    RAW_CAP,
    RAW_CJK,
    SIG_PERMS,
    conflict,
    fingerprint_bytes_of,
    is_cjk_text,
    marks_of,
    read_lead,
    signature_of,
)

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


# HTML read for a Chinese/Japanese item's text first: enough for its RAW_CJK characters in nearly every item
CJK_HEAD = 2 * (RAW_CJK + 24)


def _cjk_plain_text(html: str) -> str | None:
    """The start of `plain_text(html)`, at least RAW_CJK characters of it (all that `read_lead` reads of a
    Chinese/Japanese item), from a third of the HTML plain_text reads; None when that cannot be vouched for.
    It is a prefix of plain_text's text because every tag in the window closes inside it (a "<" left in the
    text could close further on) and no entity is there: each tag then becomes a space in any wider window too,
    and collapsing the spaces of a longer text gives a longer text with the same start."""
    if len(html) <= CJK_HEAD:
        return None  # plain_text reads it all at once anyway
    head = html[:CJK_HEAD]
    if "&" in head:
        return None
    if head.rfind("<") > head.rfind(">"):
        head = head[:head.rfind("<")]  # a tag cut in two, as plain_text does
    text = " ".join((_TAG.sub(" ", head) if "<" in head else head).split())
    return text if len(text) >= RAW_CJK and "<" not in text else None


def _with_story(row: IngestRow, story: str) -> IngestRow:
    """`dataclasses.replace(row, story=story)` at a fifth of its cost (replace reads the fields anew each call;
    a test checks that these are all of IngestRow's fields)."""
    return IngestRow(row.entry, row.html, row.state, row.fulltext, row.keywords, row.fingerprint, story)


@functools.cache
def _keywords_many() -> Callable[..., list[list[str]]]:
    from .keywords import keywords_many  # on the first item with tags on; jieba loads on the first Chinese one

    return keywords_many


MARKS_KEPT = 2048  # fingerprints whose marks a StoryStage remembers: ~2 MB, ~6 MB if each had MAX_MARKS


class _Batch(NamedTuple):
    """The batch a stage last assigned on a store, for its index once the store has stored it: each item's
    place among the batch's live items by (source key, id) (-1: an empty signature, never in the index),
    and the live items' published times, signatures and band buckets."""

    store: Store
    live_at: dict[tuple[str, str], int]
    pubs: np.ndarray
    sigs: np.ndarray
    buckets: np.ndarray

    def committed(self, store: Store, after: int | None) -> list[tuple[int, int]] | None:
        """(story sequence number, live place) of the batch's items in order of their numbers, when `store`
        gave the batch exactly the numbers after `after` in its last committed transaction; else None."""
        if store is not self.store or after is None:
            return None
        given = store.given_story_seqs()
        if not given:
            return None
        try:
            numbered = sorted((seq, self.live_at[key]) for key, seq in given.items())
        except KeyError:  # numbers given to other items too
            return None
        return numbered if numbered[0][0] == after + 1 and numbered[-1][0] == after + len(numbered) else None


class StoryStage:
    def __init__(self, stories: StoriesOptions, tags: TagsOptions):
        self.stories, self.tags = stories, tags
        self._index: BandIndex | None = None  # of the store last used (its story epoch)
        self._marks: dict[bytes, tuple[str, ...]] = {}  # fingerprint bytes → its marks (`_marks_of`)
        self._batch: _Batch | None = None  # the last batch assigned, added to the index once stored
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
        # A title with CJK characters nearly always means a Chinese/Japanese lead, which reads RAW_CJK characters:
        # its text is read from a shorter window first (and in full if its lead turns out to be another script).
        leads = []
        for e, html in items:
            text = _cjk_plain_text(html or e.content) if e.title and is_cjk_text(e.title) else None
            lead = read_lead(e.title, text) if text is not None else None
            leads.append(lead if lead is not None and lead.cjk else read_lead(e.title, plain_text(html or e.content)))
        words: list[tuple[str, ...]] = [()] * len(leads)
        if self.tags.enabled:
            words = [tuple(k) for k in _keywords_many()(leads, max_tags=self.tags.max)]
        fps: list[bytes | None] = [None] * len(leads)
        if self.stories.enabled:
            fps = [*fingerprint_bytes_of(leads)]
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
        items, keys = [], []
        for k in todo:
            e = rows[k].entry
            items.append((e.id, e.published.timestamp() if e.published else when, rows[k].fingerprint or b""))
            keys.append((e.source_key, e.id))
        for k, story in zip(todo, self._place(store, items, keys)):
            rows[k] = _with_story(rows[k], story)
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

    def _place(self, store: Store, given: list[tuple[str, float, bytes]],
               keys: list[tuple[str, str]] | None = None) -> list[str]:
        """The story of each (id, published, fingerprint), in the order given; they are taken in order of
        (published, id), and an earlier one can be a later one's candidate. With their `keys` (source key,
        id), the index takes them from this batch once they are stored, instead of reading them back."""
        order = sorted(range(len(given)), key=lambda k: (given[k][1], given[k][0]))
        items = [given[k] for k in order]
        sigs = [signature_of(fp) for _, _, fp in items]  # the marks are read for pairs over the threshold only
        live = [k for k, sig in enumerate(sigs) if sig != EMPTY_SIG]
        with store.transaction():
            after = self._index.seq if self._index is not None else None
            batch, self._batch = self._batch, None
            numbered = batch.committed(store, after) if batch is not None else None
            own = (batch, numbered) if batch is not None and numbered is not None else None
            # first: this takes the store's story lock (it reads nothing when the batch may be all that is new)
            updates = store.story_updates(after if own is None else None)
            with self._lock:
                index = self._sync(store, updates, after, own)
                pubs = [items[k][1] for k in live]
                matrix = np.frombuffer(b"".join([sigs[k] for k in live]), "<u4").reshape(len(live), SIG_PERMS)
                buckets = bucket_matrix(matrix)
                if keys is not None:
                    place = dict.fromkeys(range(len(items)), -1) | {k: j for j, k in enumerate(live)}
                    self._batch = _Batch(store, {keys[k]: place[j] for j, k in enumerate(order)},
                                         np.array(pubs, np.float64), matrix, buckets)
                if not live:
                    return [item_id for item_id, _, _ in given]
                index.load_days(pubs, store.grouped_between)
                found = index.candidates(matrix, np.array(pubs, np.float64), buckets)
            maybe = found.equal >= self.stories.threshold * SIG_PERMS  # the others are below the threshold
            item, seq = found.item[maybe], found.seq[maybe]
            stored = {c.seq: c for c in store.story_candidates(seq[seq >= 0].tolist())} if len(seq) else {}
        story = [item_id for item_id, _, _ in items]
        for j, others in self._matches(items, sigs, live, matrix, item.tolist(), seq.tolist(), stored).items():
            best: tuple[tuple[float, float, str], str] | None = None
            for share, other_pub, other_id, other in others:  # in the candidates' order: the first of equal rank wins
                rank = (-share, other_pub, other_id)
                if best is None or rank < best[0]:
                    best = (rank, story[other] if isinstance(other, int) else other)
            if best is not None:
                story[live[j]] = best[1]
        out = [""] * len(given)
        for k, s in zip(order, story):
            out[k] = s
        return out

    def _matches(self, items: list[tuple[str, float, bytes]], sigs: list[bytes], live: list[int],
                 matrix: np.ndarray, item: list[int], seq: list[int],
                 stored: dict[int, StoryCandidate]) -> dict[int, list[tuple[float, float, str, int | str]]]:
        """Of the candidate pairs (live item `item[p]`, other `seq[p]`: a stored item's story sequence number,
        or -1 - j for the batch's live item j), those that are one story (near.same_story): per live item,
        in order, (similarity, the other's published time and id, and its story: a stored one's, or the
        batch item's place in `items`, whose story is found first). The equal values of every pair are
        counted at once on the full signatures; the marks are read for the pairs over the threshold only."""
        pairs: list[tuple[int, float, str, int | str, bytes]] = []
        other_sigs = []
        for p, q in enumerate(seq):
            if q < 0:
                i = live[-1 - q]
                pairs.append((item[p], items[i][1], items[i][0], i, items[i][2]))
                other_sigs.append(sigs[i])
            elif (c := stored.get(q)) is not None and (sig := signature_of(c.fingerprint)) != EMPTY_SIG:
                pairs.append((item[p], c.published, c.id, c.story, c.fingerprint))  # (still published)
                other_sigs.append(sig)
        out: dict[int, list[tuple[float, float, str, int | str]]] = {}
        if not pairs:
            return out
        theirs = np.frombuffer(b"".join(other_sigs), "<u4").reshape(len(pairs), SIG_PERMS)
        equal = (theirs == matrix[[j for j, *_ in pairs]]).view(np.uint8).sum(axis=1, dtype=np.int64)
        for p in np.flatnonzero(equal >= self.stories.threshold * SIG_PERMS).tolist():
            j, other_pub, other_id, other, blob = pairs[p]
            if not conflict(self._marks_of(items[live[j]][2]), self._marks_of(blob)):
                out.setdefault(j, []).append((int(equal[p]) / SIG_PERMS, other_pub, other_id, other))  # similarity
        return out

    def _marks_of(self, blob: bytes) -> tuple[str, ...]:
        """`Fingerprint.from_bytes(blob).marks`, remembered: a story's items are compared again with each
        later batch that has a member of it (and a batch's items with the next ones), and reading the marks
        cost three times reading the signature. At most MARKS_KEPT are kept."""
        marks = self._marks.get(blob)
        if marks is None:
            if len(self._marks) >= MARKS_KEPT:
                self._marks.clear()
            marks = self._marks[blob] = marks_of(blob)
        return marks

    def _sync(self, store: Store, updates: StoryUpdates, after: int | None,
              own: tuple[_Batch, list[tuple[int, int]]] | None) -> BandIndex:
        """The index of this store, caught up with the stories given since it last looked: `own`, the last
        batch with its numbers, the store's since `after` (`updates` does not read them), when no other
        process or thread gave a number since; else read from the store."""
        index = self._index
        if index is None or index.epoch != updates.epoch or index.seq > updates.last:
            self._index = BandIndex(updates.epoch, updates.last)  # new, or another store: days load as needed
            return self._index
        if own is not None and after == index.seq and updates.last == own[1][-1][0]:
            batch, numbered = own
            live = [(seq, at) for seq, at in numbered if at >= 0]
            at = [a for _, a in live]
            index.add_grouped(np.array([seq for seq, _ in live], np.int64), batch.pubs[at], batch.sigs[at],
                              batch.buckets[at])
            index.seq = updates.last
            return index
        if own is not None or after != index.seq:  # (or another thread of this process moved it meanwhile)
            updates = store.story_updates(index.seq)
        index.catch_up(updates.last, updates.items)
        return index
