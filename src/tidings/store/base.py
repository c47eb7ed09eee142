"""The Store protocol and the typed rows that go in and out of it.

Backend-neutral on purpose: nothing here knows about SQLite or PostgreSQL (store/sqlite.py and
store/postgres.py implement it). Every implementation must pass tests/store/test_contract.py.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, ClassVar, Literal, NamedTuple, Protocol, Self
from zoneinfo import ZoneInfo

from ..model import Entry, ItemState, Source


@dataclass(frozen=True, slots=True)
class IngestRow:
    """One item to store: the entry, the HTML to publish, its state if new, and whether that HTML is
    the full article fetched from the page."""

    entry: Entry
    html: str
    state: ItemState = ItemState.PUBLISHED
    fulltext: bool = False
    keywords: tuple[str, ...] = ()  # outside the content hash: new keywords never make an item "changed"
    fingerprint: bytes | None = None  # stories.near.Fingerprint.to_bytes(); None: never grouped
    # the story of a new item, found before it is stored (StoryStage.assign): written with the item, which
    # takes the next story sequence number; ignored when the item is stored already
    story: str | None = None


class UpsertResult(NamedTuple):
    new: int  # items stored as published for the first time
    changed: int  # published items whose content changed


class RefilterResult(NamedTuple):
    filtered: int  # published items now kept out by the filters
    published: int  # filtered items now let through


class ItemKey(NamedTuple):
    source_key: str
    id: str


class Post(NamedTuple):
    """A Hexo ledger row: the post file (relative to _posts) and the fingerprint of what was written."""

    path: str
    hash: str


@dataclass(slots=True)
class SourceState:
    key: str
    etag: str | None
    last_modified: str | None
    last_success: float | None
    last_error: str | None
    error_count: int
    fetched_before: bool


@dataclass(slots=True)
class SourceHealth:
    """One active source as `sources check` reads it: fetch state and item figures (unix seconds UTC)."""

    key: str
    url: str
    category: str
    source: str
    channel: str
    last_success: float | None
    last_error: str | None
    last_note: str | None
    error_count: int
    next_fetch: float | None
    items_since: int  # published items first seen at or after the `since` asked for
    last_first_seen: float | None  # when the newest item of any state was first seen


@dataclass(slots=True)
class StoredItem:
    """An item as publishers read it, joined with its source's current names.

    The site workers pack and unpack these by field order (publish/site/pages.py): keep the order, and
    keep "datetime" in the annotations of the date fields.
    """

    source_key: str
    id: str
    guid: str
    link: str
    title: str
    author: str
    published: datetime
    updated: datetime | None
    first_seen: datetime
    content: str
    html: str  # UTF-8 bytes instead when read with iter_site_items(html="utf-8") or html_utf8=True
    cover: str
    tags: list[str]
    hash: str
    category: str
    source: str
    channel: str
    story: str = ""  # equal for the items of one story (the id of its first item); "" before grouping
    keywords: list[str] = field(default_factory=list)
    revision: int = 0  # the store adds one at every change a page shows (replace_urls changes no hash)

    @property
    def categories(self) -> list[str]:
        return list(filter(None, (self.category, self.source, self.channel)))  # (a comprehension is a call more)

    @property
    def all_tags(self) -> list[str]:
        """The feed's own categories, then the keywords tidings found, each once (Hexo `tags:`, items --json)."""
        return list(dict.fromkeys([*self.tags, *self.keywords]))


class GroupedItem(NamedTuple):
    """An item in a story as the story index reads it (Store.story_updates, grouped_between): published,
    or filtered (it may be published again when the filters change)."""

    seq: int  # its story sequence number: the order in which items were given their story
    published: float
    fingerprint: bytes


class StoryUpdates(NamedTuple):
    """Store.story_updates: where the store's story sequence is, and what was grouped after a point of it."""

    epoch: str  # a new value when the sequence starts over (a new or emptied store)
    last: int  # the last story sequence number given
    items: list[GroupedItem]  # the items given a story after the point asked for, in that order


class SeqsGiven:
    """The story sequence numbers a store's connection gives items in its transaction in progress, and those
    of its last committed transaction that gave any (Store.given_story_seqs), by (source key, id)."""

    __slots__ = ("committed", "pending")

    def __init__(self) -> None:
        self.pending: dict[tuple[str, str], int] = {}
        self.committed: dict[tuple[str, str], int] = {}

    def gave(self, seqs: Mapping[tuple[str, str], int]) -> None:
        self.pending.update(seqs)

    def end(self, committed: bool) -> None:
        """At the end of the outermost transaction: its numbers, if it gave any, are the last given."""
        if self.pending:
            self.committed = self.pending if committed else {}
            self.pending = {}


class StoryCandidate(NamedTuple):
    """A published item of a story that a new item is compared with (Store.story_candidates)."""

    seq: int
    source_key: str
    id: str
    story: str
    fingerprint: bytes
    published: float


class StoryMember(NamedTuple):
    """A visible item of a story of several (Store.stories): what another member's page shows of it."""

    source_key: str
    id: str
    published: float
    title: str
    link: str
    category: str
    source: str
    channel: str

    @property
    def key(self) -> ItemKey:
        return ItemKey(self.source_key, self.id)


class Ungrouped(NamedTuple):
    """A new published item that has a fingerprint and no story yet (Store.ungrouped)."""

    id: str
    fingerprint: bytes
    published: float


@dataclass(slots=True)
class Counts:
    """What the site's listings and search shards need before the item stream starts."""

    total: int = 0
    nodes: Counter[tuple[str, ...]] = field(default_factory=Counter)  # category path -> items under it
    days: Counter[date] = field(default_factory=Counter)  # local date -> items published that day
    heads: Counter[tuple[date, str]] = field(default_factory=Counter)  # (local date, first id char) -> items

    def months(self) -> Counter[tuple[int, int]]:
        c: Counter[tuple[int, int]] = Counter()
        for d, n in self.days.items():
            c[(d.year, d.month)] += n
        return c

    def years(self) -> Counter[int]:
        c: Counter[int] = Counter()
        for d, n in self.days.items():
            c[d.year] += n
        return c


class SiteChange(NamedTuple):
    """A row of the site's change journal: something a built site shows changed (Store.site_changes)."""

    source_key: str
    id: str | None  # None: the source itself changed (its names, or whether it is active)
    published: float | None  # where the item was listed before the change (None: it was not stored before)
    story: str | None  # the story it was in before the change
    state: ItemState | None  # its state before the change (None: it was not stored before)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> SiteChange:
        source_key, item_id, published, story, state = row
        return cls(source_key, item_id, published, story, ItemState(state) if state is not None else None)


class ItemRef(NamedTuple):
    """Where an item is now, as an incremental build needs it (Store.item_refs and friends)."""

    source_key: str
    id: str
    published: float
    visible: bool  # published, of an active source
    story: str  # "" when in no story
    keywords: tuple[str, ...]

    @property
    def key(self) -> ItemKey:
        return ItemKey(self.source_key, self.id)


class SiteBuild(NamedTuple):
    """What the last build of one site recorded: the journal position it had read to, and its state (JSON
    that only the site reads)."""

    position: str
    state: str


class SiteFile(NamedTuple):
    """What a build recorded of one file it wrote."""

    digest: str  # sha256 of the file's content
    fp: str  # fingerprint of its inputs
    search: str  # sha256 of what search indexes of it, or ""


class SiteFileRow(NamedTuple):
    """A file to record (Store.save_site_files): its path and its SiteFile's fields."""

    path: str
    digest: str
    fp: str
    search: str


class SourcePath(NamedTuple):
    """Where an active source's items are listed (Store.source_paths)."""

    category: str
    source: str
    channel: str


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """Which visible items iter_site_items streams: all of them, or those of some sources, published in
    [since, until), or holding a keyword. Conditions combine with AND."""

    sources: tuple[str, ...] | None = None
    since: float | None = None
    until: float | None = None
    keyword: str | None = None


ALL_ITEMS = ItemFilter()


# --- rows to records (both backends select the same columns, in the order StoredItem declares) ---------

def item_columns(html: str, content: str | None = "i.content", names: bool = True) -> str:
    """The columns of a backend's item rows, StoredItem's fields in order (items_from_rows): `html` and `content`
    are those columns' expressions (or an empty literal). The site's stream reads neither content nor the source's
    three names (content=None, names=False: items_from_rows takes the names from one lookup per source)."""
    return ("i.source_key, i.id, i.guid, i.link, i.title, i.author, i.published, i.updated, i.first_seen, "
            f"{'' if content is None else content + ', '}{html}, i.cover, i.tags, i.hash, "
            f"{'s.category, s.source, s.channel, ' if names else ''}COALESCE(i.story, ''), i.keywords, i.revision")


def items_from_rows(rows: Iterable[Sequence[Any]],
                    sources: Mapping[str, tuple[str, str, str, str]] | None = None) -> Iterator[StoredItem]:
    """The StoredItems of a backend's rows (times as unix seconds; tags and keywords as JSON text). Most items
    of a source share their tags, so each text is parsed once; items stored in one batch share their
    first-seen time, so its datetime is made once. With `sources` (key -> (key, category, source, channel))
    the rows are the site stream's (item_columns(content=None, names=False)): content is '' and each item's key
    and names are its source's own strings, shared by its items (pickled once a job chunk)."""
    tags: dict[str, list[str] | None] = {}
    seen: dict[float, datetime] = {}
    utc, loads, item = _utc, json.loads, StoredItem
    content = sources is None
    html = 10 if content else 9
    cover, tag, hash_ = html + 1, html + 2, html + 3
    story, keywords, revision = (html + 7, html + 8, html + 9) if content else (html + 4, html + 5, html + 6)
    for r in rows:
        t = tags.get(r[tag])
        if t is None:
            t = tags[r[tag]] = loads(r[tag]) if len(tags) < 10_000 else None
        first_seen = seen.get(r[8])
        if first_seen is None:
            if len(seen) >= 10_000:
                seen.clear()
            first_seen = seen[r[8]] = utc(r[8])
        key, category, source, channel = (r[0], r[14], r[15], r[16]) if sources is None else sources[r[0]]
        yield item(key, r[1], r[2], r[3], r[4], r[5], utc(r[6]), utc(r[7]) if r[7] is not None else None,
                   first_seen, r[9] if content else "", r[html], r[cover],
                   list(t) if t is not None else loads(r[tag]), r[hash_], category, source, channel,
                   r[story], [] if r[keywords] == "[]" else loads(r[keywords]), r[revision])


def in_story_order(rows: Iterable[IngestRow], now: float) -> list[IngestRow]:
    """`rows` in the order new items take story sequence numbers: by published time (`now` for an undated
    item), then id."""
    return sorted(rows, key=lambda r: (r.entry.published.timestamp() if r.entry.published else now, r.entry.id))


def new_story_seqs(rows: Sequence[IngestRow], known: Container[tuple[str, str]], now: float,
                   take: Callable[[int], int]) -> dict[tuple[str, str], int]:
    """The story sequence number of each row upsert_entries inserts with a story, keyed (source key, id):
    numbered `in_story_order` from `take(n)`, the first of n numbers the store hands out."""
    storied = in_story_order((r for r in rows if r.story is not None
                              and (r.entry.source_key, r.entry.id) not in known), now)
    first = take(len(storied)) if storied else 0
    return {(r.entry.source_key, r.entry.id): first + k for k, r in enumerate(storied)}


def stories_from_rows(rows: Iterable[Sequence[Any]]) -> dict[str, list[StoryMember]]:
    """Store.stories from rows of (story, *StoryMember fields), ordered by story then member."""
    out: dict[str, list[StoryMember]] = {}
    for story, *member in rows:
        out.setdefault(story, []).append(StoryMember(*member))
    return out


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


# Per 15-minute bucket (every UTC offset in use is a multiple of 15 minutes, so a bucket is within one local
# day). Backends count the visible items per bucket floor(floor(published) / 900) in exact integer arithmetic
# (Python's `//`, also before 1970); count_site turns those counts into local days the same way for all of them.
BUCKET = 900


def count_site(channels: Iterable[tuple[str, str, str, int]], buckets: Iterable[tuple[int, int]],
               heads: Callable[[float, float], Iterable[tuple[str, int]]], tz: ZoneInfo,
               heads_over: int | None) -> Counts:
    """Store.site_counts from a backend's aggregates: items per (category, source, channel), items per
    bucket, and `heads(start, end)`: items per first id character published in [start, end)."""
    counts = Counts()
    for category, source, channel, n in channels:
        path = tuple(c for c in (category, source, channel) if c)
        for i in range(1, len(path) + 1):
            counts.nodes[path[:i]] += n
        counts.total += n
    spans: dict[date, list[int]] = {}  # local date -> [first, last] bucket (a day's buckets are consecutive)
    for bucket, n in buckets:
        d = datetime.fromtimestamp(bucket * BUCKET, UTC).astimezone(tz).date()
        counts.days[d] += n
        span = spans.get(d)
        if span is None:
            spans[d] = [bucket, bucket]
        else:
            span[0], span[1] = min(span[0], bucket), max(span[1], bucket)
    if heads_over is not None:
        for d, n in counts.days.items():
            if n > heads_over:
                first, last = spans[d]
                for head, k in heads(first * BUCKET, (last + 1) * BUCKET):
                    counts.heads[(d, head)] += k
    return counts


class Accepts(Protocol):
    """A source's item filter (filters.ItemFilter.accepts)."""

    def __call__(self, *, title: str, content: str, author: str, link: str, categories: list[str]) -> bool: ...


SiteHtml = bool | Literal["utf-8"]


class Store(Protocol):
    """Fetch state per source, every item once per (source, id), the Hexo ledger, and the site's reads.

    Times are unix seconds UTC; `now=None` means the current time.
    """

    # Other processes store into it at once (PostgreSQL workers), waiting for one another on the story lock:
    # ingest then sets new items' stories after their insert, so that the lock is held for the assignment only.
    shared_writers: ClassVar[bool]

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def transaction(self) -> AbstractContextManager[None]:
        """Writes inside commit together, or not at all if the block raises. Inside another transaction the
        block is part of it (SQLite) or a savepoint of it (PostgreSQL)."""
        ...

    def snapshot(self) -> AbstractContextManager[None]:
        """Reads inside see one state of the store, even while another process writes.
        Inside a transaction, that transaction is the snapshot."""
        ...

    # --- sources ---------------------------------------------------------------------------------
    def sync_sources(self, sources: Iterable[Source]) -> None:
        """Record the configured sources (names may change between runs); the others become inactive."""
        ...

    def source_state(self, key: str) -> SourceState: ...

    def record_success(self, key: str, etag: str | None, last_modified: str | None,
                       feed_title: str | None = None, now: float | None = None,
                       next_fetch: float | None = None, note: str | None = None) -> None:
        """A fetch that worked: clears the error count; `note` is what was recovered or skipped (None: nothing)."""
        ...

    def record_failure(self, key: str, reason: str, now: float | None = None,
                       next_fetch: float | None = None) -> int:
        """One more failure in a row; returns the new count."""
        ...

    def set_next_fetch(self, key: str, when: float) -> None: ...

    def next_fetch(self, key: str) -> float | None: ...

    def source_health(self, since: float) -> list[SourceHealth]:
        """Active sources ordered by category, source, channel."""
        ...

    # --- items -----------------------------------------------------------------------------------
    def upsert_entries(self, rows: Iterable[IngestRow], now: float | None = None) -> UpsertResult:
        """Store new items; update changed ones in place. A known item keeps its state (tombstones stay
        dead, filters are re-run only by `refilter`), and a full-text item keeps its fetched article
        when only the feed's summary changed. An unchanged item only has its last-seen time moved."""
        ...

    def refilter(self, source: Source, accepts: Accepts) -> RefilterResult:
        """Re-evaluate the source's published and filtered items."""
        ...

    def prune(self, source: Source, now: float | None = None) -> int:
        """Apply the source's retention: old or surplus published items become tombstones; returns how many."""
        ...

    def known_ids(self, key: str, among: Sequence[str] | None = None) -> set[str]:
        """Ids of the source's items, tombstones included: all of them, or those of `among` (one feed's
        ids: a lookup by key, however long the source's history)."""
        ...

    def set_state(self, key: str, item_id: str, state: ItemState) -> None: ...

    def count_items(self, state: ItemState = ItemState.PUBLISHED) -> int: ...

    def iter_items(self, newest_first: bool = True, *, bodies: bool = True, content: bool = True,
                   html_utf8: bool = False) -> Iterator[StoredItem]:
        """Published items of active sources, streamed. `bodies=False` leaves content and html empty
        (see load_bodies), so a pass over an unchanged store reads no HTML; `content=False` leaves content
        (the feed's raw markup, which cleaned posts never show) empty; `html_utf8=True` gives the html as its
        UTF-8 bytes, undecoded (Hexo posts are written as those bytes)."""
        ...

    def load_bodies(self, item: StoredItem, *, content: bool = True, html_utf8: bool = False) -> StoredItem:
        """Fill in html (as UTF-8 bytes with `html_utf8=True`), and content unless `content=False`, of an item
        streamed with bodies=False."""
        ...

    def replace_urls(self, prefixes: Sequence[str], replacement: str) -> int:
        """Replace each prefix by `replacement` in every item's html and cover; returns the items changed."""
        ...

    # --- stories ---------------------------------------------------------------------------------
    def ungrouped(self, key: str, ids: Sequence[str]) -> list[Ungrouped]:
        """Of these items of a source: the published ones with a fingerprint and no story, oldest first."""
        ...

    def story_updates(self, after: int | None) -> StoryUpdates:
        """The story epoch and last story sequence number, and the items given a story after sequence
        number `after` (none when `after` is None) that are published or filtered, with a fingerprint.
        Inside a transaction this first takes the story lock, which serialises story assignment between
        processes until the transaction ends (PostgreSQL; a SQLite write transaction is one already)."""
        ...

    def given_story_seqs(self) -> Mapping[tuple[str, str], int]:
        """The story sequence numbers this store object gave items (upsert_entries, set_stories) in its last
        transaction that gave any, by (source key, id), if that transaction committed; else none. With them a
        process adds the items it just grouped to its story index without reading them back. A store may
        always give none (PostgreSQL does: its workers take numbers between each other's feeds)."""
        ...

    def grouped_between(self, since: float, until: float) -> list[GroupedItem]:
        """The items in a story, published or filtered, with a fingerprint, published in [since, until)."""
        ...

    def story_candidates(self, seqs: Sequence[int]) -> list[StoryCandidate]:
        """The items of these story sequence numbers that are published (and have a fingerprint)."""
        ...

    def set_stories(self, key: str, stories: Sequence[tuple[str, str]]) -> None:
        """Put stored items of a source in a story, (item id, story) in the order given, which is the order
        of the story sequence numbers they take."""
        ...

    def set_story(self, key: str, item_id: str, story: str, bands: Sequence[int] = (),
                  published: float | None = None) -> None:
        """set_stories of one item. `bands` and `published` are not used (the story index is made from the
        items' fingerprints since store schema 7); they stay for the callers that pass them."""
        ...

    def stories(self) -> dict[str, list[StoryMember]]:
        """Stories of two or more visible items (published, source active): their members, oldest first
        (by published, then source key and id)."""
        ...

    def tag_counts(self, min_items: int) -> dict[str, int]:
        """Keywords of at least `min_items` listed items (visible, and first of their story if in one),
        with their counts."""
        ...

    # --- site reads ------------------------------------------------------------------------------
    def site_counts(self, tz: ZoneInfo, heads_over: int | None = None) -> Counts:
        """Items per category node and per local day of what iter_site_items streams; and, for days of
        more than `heads_over` items (None: none), per first character of their ids."""
        ...

    def iter_site_items(self, html: SiteHtml = True, where: ItemFilter = ALL_ITEMS) -> Iterator[StoredItem]:
        """iter_items(newest_first=True) without `content` (the site never shows it) and with html=''
        unless `html`; html="utf-8" gives the html as undecoded UTF-8 bytes. `where` narrows the stream;
        it is read lazily, so a caller that stops early reads only what it took."""
        ...

    # --- the site's change journal and build records (incremental builds) ----------------------
    def site_journal_mark(self) -> str:
        """Inside a snapshot: the journal position it holds (every change it sees, and no other). A build
        records the position of the snapshot it read."""
        ...

    def site_changes(self, since: str, limit: int) -> list[SiteChange] | None:
        """Changes journaled after position `since` ("" for the start), oldest first; None when there are
        more than `limit`. The store writes the journal itself, in the transaction that makes the change."""
        ...

    def site_build(self, site: str) -> SiteBuild | None: ...

    def save_site_build(self, site: str, position: str, state: str) -> None:
        """Record a finished build; journal rows that every recorded site has read are dropped."""
        ...

    def forget_site(self, site: str) -> None:
        """Drop a site's build record and file list (its next build is a full one)."""
        ...

    def site_names(self) -> list[str]: ...

    def site_files(self, site: str, paths: Iterable[str] | None = None,
                   under: str | None = None) -> dict[str, SiteFile]:
        """The site's recorded files: all, those of `paths`, or those whose path starts with `under`."""
        ...

    def save_site_files(self, site: str, put: Iterable[tuple[str, str, str, str]], delete: Iterable[str]) -> None:
        """Record files (SiteFileRow's fields, as SiteFileRows or plain tuples) and forget others."""
        ...

    def item_refs(self, keys: Iterable[ItemKey]) -> list[ItemRef]:
        """The stored items of these keys (visible or not; unknown keys are left out)."""
        ...

    def story_refs(self, stories: Iterable[str]) -> list[ItemRef]:
        """The visible items of these stories."""
        ...

    def keyword_refs(self, words: Iterable[str]) -> list[ItemRef]:
        """The visible items holding any of these keywords."""
        ...

    def story_members(self, stories: Iterable[str]) -> dict[str, list[StoryMember]]:
        """The visible members of these stories, as stories() gives them (stories of one member too)."""
        ...

    def day_heads(self, since: float, until: float) -> dict[str, int]:
        """Visible items published in [since, until), counted per first character of their ids."""
        ...

    def source_paths(self) -> dict[str, SourcePath]:
        """Active sources: key -> where their items are listed."""
        ...

    def item_html(self, source_key: str, item_id: str, limit: int | None = None) -> str:
        """One item's published HTML ('' if unknown), only its first `limit` characters when given."""
        ...

    # --- Hexo ledger and settings ----------------------------------------------------------------
    def posts(self) -> dict[ItemKey, Post]: ...

    def set_post(self, key: str, item_id: str, path: str, hash: str) -> None: ...

    def set_posts(self, rows: Sequence[tuple[str, str, str, str]]) -> None:
        """set_post of each (key, item id, path, hash), in order, in one statement."""
        ...

    def delete_post(self, key: str, item_id: str) -> None: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...
