"""The SQLite store (WAL mode): the default backend, nothing to run.

Tables: `sources` (one row per feed URL ever configured; `active` = in the current config), `items` (one
row per (source_key, id); `published` is first-seen when the feed gave no date; `content` is the HTML as
the feed gave it, `html` what is published), `posts` (the Hexo ledger) and `meta` (settings such as
filter fingerprints). Only this module reads or writes them.
"""
from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self
from zoneinfo import ZoneInfo

from ..errors import StoreFormatError, StoreVersionError
from ..model import Entry, ItemState, Source
from .base import (
    ALL_ITEMS,
    Accepts,
    Counts,
    GroupedItem,
    IngestRow,
    ItemFilter,
    ItemKey,
    Post,
    RefilterResult,
    SeqsGiven,
    SiteHtml,
    SourceHealth,
    SourceState,
    StoredItem,
    StoryCandidate,
    StoryMember,
    StoryUpdates,
    Ungrouped,
    UpsertResult,
    count_site,
    item_columns,
    items_from_rows,
    new_story_seqs,
    stories_from_rows,
)
from .site import SiteTables

# --- schema versions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sql:
    statement: str


@dataclass(frozen=True, slots=True)
class AddColumn:
    """Skipped when the column exists: stores from before versioning (user_version 0) may have it already."""

    table: str
    column: str
    declaration: str


Step = Sql | AddColumn

# An update of these item columns changes what a built site shows (an unchanged item's last_seen does not).
SITE_COLUMNS = "guid, link, title, author, published, updated, html, cover, tags, hash, state, story, keywords"

# MIGRATIONS[v] takes a store from version v to v + 1; a new store runs them all. Append, never edit.
MIGRATIONS: tuple[tuple[Step, ...], ...] = (
    (  # 1: the schema as first released (IF NOT EXISTS: unversioned stores already have it)
        Sql("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)"),
        Sql("""CREATE TABLE IF NOT EXISTS sources(
  key TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  category TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '',
  channel TEXT NOT NULL DEFAULT '',
  active INTEGER NOT NULL DEFAULT 1,
  etag TEXT,
  last_modified TEXT,
  last_fetch REAL,
  last_success REAL,
  last_error TEXT,
  error_count INTEGER NOT NULL DEFAULT 0,
  next_fetch REAL,
  feed_title TEXT
)"""),
        Sql("""CREATE TABLE IF NOT EXISTS items(
  source_key TEXT NOT NULL,
  id TEXT NOT NULL,
  guid TEXT NOT NULL DEFAULT '',
  link TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL,
  author TEXT NOT NULL DEFAULT '',
  published REAL NOT NULL,
  has_date INTEGER NOT NULL DEFAULT 1,
  updated REAL,
  first_seen REAL NOT NULL,
  last_seen REAL NOT NULL,
  content TEXT NOT NULL,
  html TEXT NOT NULL,
  cover TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '[]',
  hash TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'published',
  PRIMARY KEY (source_key, id)
)"""),
        Sql("CREATE INDEX IF NOT EXISTS items_by_date ON items(state, published DESC)"),
        Sql("""CREATE TABLE IF NOT EXISTS posts(
  source_key TEXT NOT NULL,
  id TEXT NOT NULL,
  path TEXT NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (source_key, id)
)"""),
        Sql("CREATE UNIQUE INDEX IF NOT EXISTS posts_by_path ON posts(path)"),
    ),
    (  # 2: whether an item's html is the article fetched from its page (full_text)
        AddColumn("items", "fulltext", "INTEGER NOT NULL DEFAULT 0"),
    ),
    (  # 3: what parsing recovered or full text skipped on the last fetch (sources check)
        AddColumn("sources", "last_note", "TEXT"),
    ),
    (  # 4: stories and keywords (SPEC §10): an item's story, its fingerprint, and the LSH bands that find it
        AddColumn("items", "story", "TEXT"),
        AddColumn("items", "keywords", "TEXT NOT NULL DEFAULT '[]'"),
        AddColumn("items", "fingerprint", "BLOB"),
        Sql("CREATE INDEX IF NOT EXISTS items_by_story ON items(story) WHERE story IS NOT NULL"),
        Sql("""CREATE TABLE IF NOT EXISTS story_bands(
  band INTEGER NOT NULL,
  published REAL NOT NULL,
  source_key TEXT NOT NULL,
  id TEXT NOT NULL,
  PRIMARY KEY (band, published, source_key, id)
) WITHOUT ROWID"""),
    ),
    (  # 5: the site's change journal, written by triggers in the writer's transaction, and each site's
       # build record and files (store/site.py)
        Sql("CREATE TABLE IF NOT EXISTS site_changes(seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "source_key TEXT NOT NULL, id TEXT, published REAL, story TEXT, state TEXT)"),
        Sql("CREATE TRIGGER IF NOT EXISTS site_item_added AFTER INSERT ON items WHEN NEW.state = 'published' "
            "BEGIN INSERT INTO site_changes(source_key, id) VALUES (NEW.source_key, NEW.id); END"),
        Sql(f"CREATE TRIGGER IF NOT EXISTS site_item_changed AFTER UPDATE OF {SITE_COLUMNS} ON items "
            "WHEN OLD.state = 'published' OR NEW.state = 'published' BEGIN INSERT INTO site_changes(source_key, id, "
            "published, story, state) VALUES (OLD.source_key, OLD.id, OLD.published, OLD.story, OLD.state); END"),
        Sql("CREATE TRIGGER IF NOT EXISTS site_item_deleted AFTER DELETE ON items WHEN OLD.state = 'published' "
            "BEGIN INSERT INTO site_changes(source_key, id, published, story, state) "
            "VALUES (OLD.source_key, OLD.id, OLD.published, OLD.story, OLD.state); END"),
        Sql("CREATE TRIGGER IF NOT EXISTS site_source_changed AFTER UPDATE OF category, source, channel, active "
            "ON sources WHEN OLD.category IS NOT NEW.category OR OLD.source IS NOT NEW.source "
            "OR OLD.channel IS NOT NEW.channel OR OLD.active IS NOT NEW.active "
            "BEGIN INSERT INTO site_changes(source_key) VALUES (OLD.key); END"),
        Sql("CREATE TABLE IF NOT EXISTS site_builds(site TEXT PRIMARY KEY, position TEXT NOT NULL, "
            "state TEXT NOT NULL)"),
        Sql("CREATE TABLE IF NOT EXISTS site_files(site TEXT NOT NULL, path TEXT NOT NULL, digest TEXT NOT NULL, "
            "fp TEXT NOT NULL, search TEXT NOT NULL DEFAULT '', PRIMARY KEY (site, path)) WITHOUT ROWID"),
        # items by keyword, newest first (tag pages); kept by triggers, keywords being JSON text in items
        Sql("CREATE TABLE IF NOT EXISTS item_keywords(word TEXT NOT NULL, published REAL NOT NULL, id TEXT NOT NULL, "
            "source_key TEXT NOT NULL, PRIMARY KEY (word, published, id, source_key)) WITHOUT ROWID"),
        Sql("INSERT OR IGNORE INTO item_keywords SELECT k.value, i.published, i.id, i.source_key "
            "FROM items i, json_each(i.keywords) k"),
        Sql("CREATE TRIGGER IF NOT EXISTS item_keywords_added AFTER INSERT ON items WHEN NEW.keywords != '[]' "
            "BEGIN INSERT OR IGNORE INTO item_keywords SELECT value, NEW.published, NEW.id, NEW.source_key "
            "FROM json_each(NEW.keywords); END"),
        Sql("CREATE TRIGGER IF NOT EXISTS item_keywords_changed AFTER UPDATE OF keywords, published ON items "
            "WHEN OLD.keywords != NEW.keywords OR OLD.published != NEW.published BEGIN "
            "DELETE FROM item_keywords WHERE word IN (SELECT value FROM json_each(OLD.keywords)) "
            "AND published = OLD.published AND id = OLD.id AND source_key = OLD.source_key; "
            "INSERT OR IGNORE INTO item_keywords SELECT value, NEW.published, NEW.id, NEW.source_key "
            "FROM json_each(NEW.keywords); END"),
        Sql("CREATE TRIGGER IF NOT EXISTS item_keywords_deleted AFTER DELETE ON items WHEN OLD.keywords != '[]' "
            "BEGIN DELETE FROM item_keywords WHERE word IN (SELECT value FROM json_each(OLD.keywords)) "
            "AND published = OLD.published AND id = OLD.id AND source_key = OLD.source_key; END"),
    ),
    (  # 6: a revision per item, one more at every change a page shows (the site's fingerprints read it)
        AddColumn("items", "revision", "INTEGER NOT NULL DEFAULT 0"),
        Sql(f"CREATE TRIGGER IF NOT EXISTS item_revised AFTER UPDATE OF {SITE_COLUMNS} ON items "
            "BEGIN UPDATE items SET revision = OLD.revision + 1 "
            "WHERE source_key = NEW.source_key AND id = NEW.id; END"),
    ),
    (  # 7: the story band index moves to memory (stories/index.py), built from the items' fingerprints: each
       # grouped item gets a story sequence number (the order stories were given, from a counter in meta
       # never reused), by which processes catch up with each other; story_bands goes
        AddColumn("items", "story_seq", "INTEGER"),
        Sql("UPDATE items SET story_seq = rowid WHERE story IS NOT NULL AND story_seq IS NULL"),
        Sql("CREATE INDEX IF NOT EXISTS items_by_story_seq ON items(story_seq) WHERE story_seq IS NOT NULL"),
        Sql("INSERT OR REPLACE INTO meta(key, value) SELECT 'story_seq', coalesce(max(story_seq), 0) FROM items"),
        Sql("INSERT OR IGNORE INTO meta(key, value) VALUES ('story_epoch', lower(hex(randomblob(8))))"),
        Sql("DROP TABLE IF EXISTS story_bands"),
    ),
    (  # 8: a new item's keywords go into item_keywords with one executemany per upsert, not by a trigger (its
       # json_each cost more than the inserts: docs/benchmarks.md, session 7); the update and delete triggers stay
        Sql("DROP TRIGGER IF EXISTS item_keywords_added"),
    ),
    (  # 9: the date index also holds id and source_key, so the site's counts read no row (a row is ~5 KB: at a
       # million items the counts read the whole file) and its stream needs no sort for ties (store/site.py)
        Sql("DROP INDEX IF EXISTS items_by_date"),
        Sql("CREATE INDEX IF NOT EXISTS items_by_date ON items(state, published DESC, id, source_key)"),
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def _apply(db: sqlite3.Connection, step: Step) -> None:
    if isinstance(step, Sql):
        db.execute(step.statement)
    elif step.column not in {r[1] for r in db.execute(f"PRAGMA table_info({step.table})")}:
        db.execute(f"ALTER TABLE {step.table} ADD COLUMN {step.column} {step.declaration}")


def migrate(db: sqlite3.Connection, where: str = "store") -> int:
    """Bring the schema to SCHEMA_VERSION in one transaction; returns the version found."""
    with _Tx(db):  # IMMEDIATE: two processes opening an old store migrate it once
        found: int = db.execute("PRAGMA user_version").fetchone()[0]
        if found > SCHEMA_VERSION:
            raise StoreVersionError(
                f"{where} has schema version {found}, newer than this tidings knows ({SCHEMA_VERSION}): "
                "it was written by a newer tidings; upgrade tidings to use it")
        for steps in MIGRATIONS[found:]:
            for step in steps:
                _apply(db, step)
        if found != SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return found


# --- rows -----------------------------------------------------------------------------------------------

_PUBLISHED = ItemState.PUBLISHED.value
_FILTERED = ItemState.FILTERED.value
_PRUNED = ItemState.PRUNED.value
# Items in a story the story index holds: those that can be listed again (deleted and pruned ones never are).
_GROUPABLE = (_PUBLISHED, _FILTERED)

# The items publishers see: published, of a source still configured.
_VISIBLE = "FROM items i JOIN sources s ON s.key = i.source_key WHERE i.state = 'published' AND s.active = 1"
# The html column as text, or as its UTF-8 bytes undecoded (html_utf8=True).
_HTML_COLUMN = {False: "i.html", True: "CAST(i.html AS BLOB)"}


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt else None


def _null(value: None) -> None:
    return value


def _blob(value: bytes) -> bytes:
    return value


# sqlite3 looks for an adapter for each parameter that is not exactly an int, float, str or bytearray, and finding
# none costs it an AttributeError made and cleared (~3,300 instructions; a new item binds its content's bytes and
# 3-4 None). Registered as themselves, None and bytes bind as before (NULL, a blob) after a dict lookup and a call.
# The registry is sqlite3's, for the whole process: for every connection, the same values bound.
sqlite3.register_adapter(type(None), _null)
sqlite3.register_adapter(bytes, _blob)



# json.dumps(values, ensure_ascii=False) without a new encoder per call (keyword arguments make one each time)
_JSON_TEXT = json.JSONEncoder(ensure_ascii=False).encode


def _json_list(values: Sequence[str]) -> str:
    """A list of strings as the JSON text the tags and keywords columns hold; '[]' (most rows) without json."""
    return _JSON_TEXT(list(values)) if values else "[]"



# Per 15-minute bucket (base.count_site). `fl` is floor(published), so the arithmetic is exact integers and
# matches Python's `//` before 1970.
_BUCKETS = ("SELECT CASE WHEN fl >= 0 THEN fl / 900 ELSE -((899 - fl) / 900) END AS bucket, count(*) FROM "
            "(SELECT CAST(i.published AS INTEGER) - (i.published < CAST(i.published AS INTEGER)) AS fl "
            f"{_VISIBLE}) GROUP BY bucket")
# An item the listings show: not in a story, or its story's first visible item (published, source, id).
# (j.state || ''): by the story index; SQLite's planner took the state index, every published item per row.
_LISTED = ("(i.story IS NULL OR NOT EXISTS (SELECT 1 FROM items j JOIN sources t ON t.key = j.source_key "
           "WHERE j.story = i.story AND (j.state || '') = 'published' AND t.active = 1 "
           "AND (j.published, j.source_key, j.id) < (i.published, i.source_key, i.id)))")
_STORIED = ("FROM items i JOIN sources s ON s.key = i.source_key WHERE i.story IS NOT NULL "
            "AND (i.state || '') = 'published' AND s.active = 1")
_CHANNELS = f"SELECT s.category, s.source, s.channel, count(*) {_VISIBLE} GROUP BY s.key"
_HEADS = f"SELECT substr(i.id, 1, 1), count(*) {_VISIBLE} AND i.published >= ? AND i.published < ? GROUP BY 1"


_INSERT_ITEM = ("INSERT INTO items(source_key, id, guid, link, title, author, published, has_date, updated, "
                "first_seen, last_seen, content, html, cover, tags, hash, state, fulltext, keywords, fingerprint, "
                "story, story_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,CAST(? AS TEXT),?,?,?,?,?,?,?,?,?,?)")
# Keyword rows one INSERT statement takes, largest first (then the rest by the next size): a statement run per
# row cost more than the row's insert (binding, a step with the GIL released around it, SQLite's mutexes).
_KEYWORD_ROWS_AT_ONCE = (64, 8, 1)
_INSERT_KEYWORDS = {n: "INSERT OR IGNORE INTO item_keywords(word, published, id, source_key) VALUES "
                       + ", ".join(["(?, ?, ?, ?)"] * n) for n in _KEYWORD_ROWS_AT_ONCE}


def _insert_keywords(db: sqlite3.Connection, values: Sequence[str | float]) -> None:
    """Insert item_keywords rows, given one after another as (word, published, id, source_key), in order."""
    at, total = 0, len(values) // 4
    for n in _KEYWORD_ROWS_AT_ONCE:
        end = at + (total - at) // n * n
        if end > at:
            db.executemany(_INSERT_KEYWORDS[n], [values[k:k + 4 * n] for k in range(4 * at, 4 * end, 4 * n)])
            at = end


# By the story sequence index (a partial index: the WHERE clause lets the planner use it)
_MAX_STORY_SEQ = "SELECT coalesce(max(story_seq), 0) FROM items WHERE story_seq IS NOT NULL"


class _StoryTables:
    """SQLiteStore's story methods (Store protocol, "stories"): the items' story and story sequence columns."""

    db: sqlite3.Connection
    seqs_given: SeqsGiven

    if TYPE_CHECKING:  # SQLiteStore's
        def transaction(self) -> AbstractContextManager[None]: ...

    def ungrouped(self, key: str, ids: Sequence[str]) -> list[Ungrouped]:
        out: list[Ungrouped] = []
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            # `+i.state`: by the primary key, not items_by_date, which the planner took (all published items)
            out += [Ungrouped(r[0], r[1], r[2]) for r in self.db.execute(
                "SELECT i.id, i.fingerprint, i.published FROM items i WHERE i.source_key = ? "
                f"AND i.id IN ({','.join('?' * len(chunk))}) AND +i.state = 'published' AND i.story IS NULL "
                "AND i.fingerprint IS NOT NULL", (key, *chunk))]
        return sorted(out, key=lambda u: (u.published, u.id))

    def story_updates(self, after: int | None) -> StoryUpdates:
        # A write transaction (BEGIN IMMEDIATE) is the story lock already: one writer at a time.
        meta = dict(self.db.execute("SELECT key, value FROM meta WHERE key IN ('story_epoch', 'story_seq')"))
        if "story_epoch" not in meta:  # an emptied store: the sequence starts over
            self.db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('story_epoch', ?)", (secrets.token_hex(8),))
            meta = dict(self.db.execute("SELECT key, value FROM meta WHERE key IN ('story_epoch', 'story_seq')"))
        last = int(meta.get("story_seq")
                   or self.db.execute(_MAX_STORY_SEQ).fetchone()[0])
        items: list[GroupedItem] = []
        if after is not None and after < last:  # `+state`: by items_by_story_seq, not every published item
            items = [GroupedItem(*r) for r in self.db.execute(
                "SELECT story_seq, published, fingerprint FROM items WHERE story_seq > ? AND +state IN (?, ?) "
                "AND fingerprint IS NOT NULL ORDER BY story_seq", (after, *_GROUPABLE))]
        return StoryUpdates(meta["story_epoch"], last, items)

    def given_story_seqs(self) -> Mapping[tuple[str, str], int]:
        return self.seqs_given.committed

    def grouped_between(self, since: float, until: float) -> list[GroupedItem]:
        return [GroupedItem(*r) for r in self.db.execute(
            "SELECT story_seq, published, fingerprint FROM items WHERE state IN (?, ?) AND published >= ? "
            "AND published < ? AND story_seq IS NOT NULL AND fingerprint IS NOT NULL", (*_GROUPABLE, since, until))]

    def story_candidates(self, seqs: Sequence[int]) -> list[StoryCandidate]:
        out: list[StoryCandidate] = []
        for start in range(0, len(seqs), 500):
            chunk = list(seqs[start:start + 500])
            out += [StoryCandidate(*r) for r in self.db.execute(
                "SELECT story_seq, source_key, id, story, fingerprint, published FROM items "
                f"WHERE story_seq IN ({','.join('?' * len(chunk))}) AND +state = 'published' "
                "AND fingerprint IS NOT NULL",
                chunk)]
        return out

    def _take_story_seqs(self, n: int) -> int:
        """Reserve n story sequence numbers; returns the first (inside the caller's transaction)."""
        row = self.db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'story_seq' "
                              "RETURNING value", (n,)).fetchone()
        if row is None:  # a store whose meta was emptied: go on from its items
            row = self.db.execute(f"INSERT INTO meta(key, value) VALUES ('story_seq', ({_MAX_STORY_SEQ}) + ?) "
                                  "RETURNING value", (n,)).fetchone()
        return int(row[0]) - n + 1

    def _new_items(self, rows: Sequence[IngestRow], known: Container[tuple[str, str]],
                   now: float) -> dict[tuple[str, str], int]:
        """Before upsert_entries inserts the rows not `known`: their keywords go into item_keywords (by
        `_insert_keywords`: a trigger's json_each cost more than the inserts); returns the story sequence
        numbers of those with a story (base.new_story_seqs)."""
        values: list[str | float] = []
        for r in rows:
            e = r.entry
            if r.keywords and (e.source_key, e.id) not in known:
                published = e.published.timestamp() if e.published else now
                for word in r.keywords:
                    values += (word, published, e.id, e.source_key)
        _insert_keywords(self.db, values)
        seq_of = new_story_seqs(rows, known, now, self._take_story_seqs)
        self.seqs_given.gave(seq_of)
        return seq_of

    def set_stories(self, key: str, stories: Sequence[tuple[str, str]]) -> None:
        if not stories:
            return
        with self.transaction():
            first = self._take_story_seqs(len(stories))
            self.seqs_given.gave({(key, item_id): first + k for k, (item_id, _) in enumerate(stories)})
            self.db.executemany("UPDATE items SET story = ?, story_seq = ? WHERE source_key = ? AND id = ?",
                                [(story, first + k, key, item_id) for k, (item_id, story) in enumerate(stories)])

    def set_story(self, key: str, item_id: str, story: str, bands: Sequence[int] = (),
                  published: float | None = None) -> None:
        self.set_stories(key, [(item_id, story)])

    def tag_counts(self, min_items: int) -> dict[str, int]:
        # An empty item_keywords: no item has keywords, and the query below would read every row (the
        # keywords are stored after the body) to find none.
        if self.db.execute("SELECT 1 FROM item_keywords LIMIT 1").fetchone() is None:
            return {}
        return dict(self.db.execute(
            f"SELECT k.value, count(*) FROM items i JOIN sources s ON s.key = i.source_key, json_each(i.keywords) k "
            f"WHERE i.state = 'published' AND s.active = 1 AND {_LISTED} GROUP BY k.value HAVING count(*) >= ?",
            (min_items,)))

    def stories(self) -> dict[str, list[StoryMember]]:
        # By the story index: (i.state || '') keeps the planner off the date index, by which it read every
        # published row (the story is stored after the body) to find the few in a story.
        return stories_from_rows(self.db.execute(
                "SELECT i.story, i.source_key, i.id, i.published, i.title, i.link, s.category, s.source, s.channel "
                f"{_STORIED} AND i.story IN (SELECT i.story {_STORIED} GROUP BY i.story HAVING count(*) > 1) "
                "ORDER BY i.story, i.published, i.source_key, i.id"))



class SQLiteStore(_StoryTables, SiteTables):
    """The Store protocol on one SQLite file."""

    shared_writers: ClassVar[bool] = False  # one writer at a time (`tidings run`'s file lock)

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: the pipeline hands the store to one ingest thread while it fetches;
        # it is never used from two threads at once.
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.seqs_given = SeqsGiven()
        try:
            # Text is bound and read as its UTF-8 bytes (content at ingest, html for posts and pages), which is
            # the same text only in a UTF-8 database: every store tidings makes, and SQLite's default.
            encoding = self.db.execute("PRAGMA encoding").fetchone()[0]
            if encoding != "UTF-8":
                raise StoreFormatError(f"{self.path}: a SQLite database in {encoding}; tidings reads and writes "
                                       "only UTF-8 stores (its own): give a new path for the store")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA busy_timeout=30000")
            migrate(self.db, str(self.path))
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, args).fetchall()

    def _run(self, sql: str, args: Sequence[Any] = ()) -> None:
        self.db.execute(sql, args)

    def _run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.db.executemany(sql, rows)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def transaction(self) -> AbstractContextManager[None]:
        # Inside another transaction, a block joins it: its writes commit with the outer block (or not).
        return contextlib.nullcontext() if self.db.in_transaction else _Tx(self.db, self.seqs_given.end)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN")  # deferred: a read transaction, which WAL keeps consistent
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    # --- sources ---------------------------------------------------------------------------------------
    def sync_sources(self, sources: Iterable[Source]) -> None:
        sources = list(sources)
        with self.transaction():
            # Only the sources that left the config are switched off: a source switched off and on again in
            # one transaction would still be journaled as changed (site_source_changed), twice.
            self.db.execute("UPDATE sources SET active = 0 WHERE active = 1 AND key NOT IN "
                            "(SELECT value FROM json_each(?))", (json.dumps([s.key for s in sources]),))
            for s in sources:
                self.db.execute(
                    "INSERT INTO sources(key, url, category, source, channel, active) VALUES (?,?,?,?,?,1) "
                    "ON CONFLICT(key) DO UPDATE SET url=excluded.url, category=excluded.category, "
                    "source=excluded.source, channel=excluded.channel, active=1",
                    (s.key, s.url, s.category, s.source, s.channel),
                )

    def source_state(self, key: str) -> SourceState:
        row = self.db.execute(
            "SELECT etag, last_modified, last_success, last_error, error_count, last_fetch "
            "FROM sources WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return SourceState(key, None, None, None, None, 0, False)
        has_items = self.db.execute("SELECT 1 FROM items WHERE source_key = ? LIMIT 1", (key,)).fetchone()
        return SourceState(key, row[0], row[1], row[2], row[3], row[4] or 0,
                           row[5] is not None or has_items is not None)

    def record_success(self, key: str, etag: str | None, last_modified: str | None,
                       feed_title: str | None = None, now: float | None = None,
                       next_fetch: float | None = None, note: str | None = None) -> None:
        now = now or time.time()
        self.db.execute(
            "UPDATE sources SET etag = ?, last_modified = ?, last_fetch = ?, last_success = ?, "
            "last_error = NULL, error_count = 0, feed_title = COALESCE(?, feed_title), next_fetch = ?, "
            "last_note = ? WHERE key = ?",
            (etag, last_modified, now, now, feed_title, next_fetch, note, key),
        )

    def record_failure(self, key: str, reason: str, now: float | None = None,
                       next_fetch: float | None = None) -> int:
        self.db.execute(
            "UPDATE sources SET last_fetch = ?, last_error = ?, error_count = error_count + 1, next_fetch = ? "
            "WHERE key = ?",
            (now or time.time(), reason, next_fetch, key),
        )
        row = self.db.execute("SELECT error_count FROM sources WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def set_next_fetch(self, key: str, when: float) -> None:
        self.db.execute("UPDATE sources SET next_fetch = ? WHERE key = ?", (when, key))

    def next_fetch(self, key: str) -> float | None:
        row = self.db.execute("SELECT next_fetch FROM sources WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def source_health(self, since: float) -> list[SourceHealth]:
        recent = dict(self.db.execute(
            "SELECT source_key, count(*) FROM items WHERE state = 'published' AND first_seen >= ? "
            "GROUP BY source_key", (since,)))
        latest = dict(self.db.execute("SELECT source_key, max(first_seen) FROM items GROUP BY source_key"))
        rows = self.db.execute(
            "SELECT key, url, category, source, channel, last_success, last_error, last_note, error_count, "
            "next_fetch FROM sources WHERE active = 1 ORDER BY category, source, channel").fetchall()
        return [SourceHealth(key=r[0], url=r[1], category=r[2], source=r[3], channel=r[4], last_success=r[5],
                             last_error=r[6], last_note=r[7], error_count=r[8] or 0, next_fetch=r[9],
                             items_since=recent.get(r[0], 0), last_first_seen=latest.get(r[0])) for r in rows]

    # --- items -----------------------------------------------------------------------------------------
    def upsert_entries(self, rows: Iterable[IngestRow], now: float | None = None) -> UpsertResult:
        now = now or time.time()
        rows = list(rows)
        known = self._known_rows(rows)
        with self.transaction():
            seq_of = self._new_items(rows, known, now)
            return _write_rows(self.db, rows, known, seq_of, now)

    def _known_rows(self, rows: list[IngestRow]) -> dict[tuple[str, str], _Known]:
        """The stored rows of these entries, in one query per source (not one per entry)."""
        by_source: dict[str, list[str]] = {}
        for row in rows:
            by_source.setdefault(row.entry.source_key, []).append(row.entry.id)
        known: dict[tuple[str, str], _Known] = {}
        for key, ids in by_source.items():
            for start in range(0, len(ids), 500):  # under SQLite's limit on bound parameters
                chunk = ids[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for r in self.db.execute(
                        f"SELECT id, hash, state, published, fulltext, html FROM items "
                        f"WHERE source_key = ? AND id IN ({marks})", (key, *chunk)):
                    known[(key, r[0])] = _Known(r[1], r[2], r[3], bool(r[4]), r[5])
        return known

    def refilter(self, source: Source, accepts: Accepts) -> RefilterResult:
        flips: list[tuple[str, str, str]] = []
        for r in self.db.execute("SELECT id, title, html, author, link, tags, state FROM items "
                                 "WHERE source_key = ? AND state IN ('published', 'filtered')", (source.key,)):
            ok = accepts(title=r[1], content=r[2], author=r[3], link=r[4],
                         categories=source.categories + json.loads(r[5]))
            want = _PUBLISHED if ok else _FILTERED
            if want != r[6]:
                flips.append((want, source.key, r[0]))
        if flips:
            with self.transaction():
                self.db.executemany("UPDATE items SET state = ? WHERE source_key = ? AND id = ?", flips)
        return RefilterResult(sum(f[0] == _FILTERED for f in flips), sum(f[0] == _PUBLISHED for f in flips))

    def prune(self, source: Source, now: float | None = None) -> int:
        # A pruned item keeps its key, so it never comes back as new; its HTML is dropped to free space.
        now = now or time.time()
        doomed: set[str] = set()
        if source.retain_days:
            doomed |= {r[0] for r in self.db.execute(
                "SELECT id FROM items WHERE source_key = ? AND state = 'published' AND published < ?",
                (source.key, now - source.retain_days * 86400))}
        if source.retain_per_source:
            doomed |= {r[0] for r in self.db.execute(
                "SELECT id FROM items WHERE source_key = ? AND state = 'published' "
                "ORDER BY published DESC, id LIMIT -1 OFFSET ?", (source.key, source.retain_per_source))}
        if doomed:
            with self.transaction():
                self.db.executemany(
                    "UPDATE items SET state = ?, content = '', html = '' WHERE source_key = ? AND id = ?",
                    [(_PRUNED, source.key, i) for i in doomed])
        return len(doomed)

    def known_ids(self, key: str, among: Sequence[str] | None = None) -> set[str]:
        if among is None:
            return {r[0] for r in self.db.execute("SELECT id FROM items WHERE source_key = ?", (key,))}
        found: set[str] = set()
        for start in range(0, len(among), 500):  # under SQLite's limit on bound parameters
            chunk = list(among[start:start + 500])
            found.update(r[0] for r in self.db.execute(
                f"SELECT id FROM items WHERE source_key = ? AND id IN ({','.join('?' * len(chunk))})", (key, *chunk)))
        return found

    def set_state(self, key: str, item_id: str, state: ItemState) -> None:
        self.db.execute("UPDATE items SET state = ? WHERE source_key = ? AND id = ?",
                        (ItemState(state).value, key, item_id))

    def count_items(self, state: ItemState = ItemState.PUBLISHED) -> int:
        return int(self.db.execute("SELECT count(*) FROM items WHERE state = ?",
                                   (ItemState(state).value,)).fetchone()[0])

    def iter_items(self, newest_first: bool = True, *, bodies: bool = True, content: bool = True,
                   html_utf8: bool = False) -> Iterator[StoredItem]:
        order = "DESC" if newest_first else "ASC"
        columns = item_columns(_HTML_COLUMN[html_utf8] if bodies else "''", "i.content" if bodies and content else "''")
        # items_from_rows: a source's items share their tags, parsed once
        yield from items_from_rows(self.db.execute(f"SELECT {columns} {_VISIBLE} ORDER BY i.published {order}, i.id"))

    def load_bodies(self, item: StoredItem, *, content: bool = True, html_utf8: bool = False) -> StoredItem:
        raw = "content" if content else "''"
        row = self.db.execute(f"SELECT {raw}, {_HTML_COLUMN[html_utf8]} FROM items i WHERE source_key = ? AND id = ?",
                              (item.source_key, item.id)).fetchone()
        if row:
            item.content, item.html = row
        return item

    def replace_urls(self, prefixes: Sequence[str], replacement: str) -> int:
        def replaced(column: str) -> str:
            expr = column
            for _ in prefixes:
                expr = f"replace({expr}, ?, ?)"
            return expr

        pairs = [v for p in prefixes for v in (p, replacement)]
        found = " OR ".join(f"instr({c}, ?) > 0" for c in ("html", "cover") for _ in prefixes)
        with self.transaction():
            cur = self.db.execute(f"UPDATE items SET html = {replaced('html')}, cover = {replaced('cover')} "
                                  f"WHERE {found}", (*pairs, *pairs, *prefixes, *prefixes))
            return cur.rowcount

    # --- site reads ------------------------------------------------------------------------------------
    def site_counts(self, tz: ZoneInfo, heads_over: int | None = None) -> Counts:
        return count_site(self.db.execute(_CHANNELS), self.db.execute(_BUCKETS),
                          lambda start, end: self.db.execute(_HEADS, (start, end)), tz, heads_over)

    def iter_site_items(self, html: SiteHtml = True, where: ItemFilter = ALL_ITEMS) -> Iterator[StoredItem]:
        col = _HTML_COLUMN[html == "utf-8"] if html else "''"
        tail, args = self._site_items_sql(where)
        with self.snapshot():  # the sources' names and the rows of one snapshot
            sources = self._site_sources()
            columns = item_columns(col, content=None, names=False)
            yield from items_from_rows(self.db.execute(f"SELECT {columns} {tail}", args), sources)

    def item_html(self, source_key: str, item_id: str, limit: int | None = None) -> str:
        col = f"substr(html, 1, {int(limit)})" if limit else "html"
        row = self.db.execute(f"SELECT {col} FROM items WHERE source_key = ? AND id = ?",
                              (source_key, item_id)).fetchone()
        return str(row[0]) if row else ""

    # --- Hexo ledger and settings ----------------------------------------------------------------------
    def posts(self) -> dict[ItemKey, Post]:
        return {ItemKey(r[0], r[1]): Post(r[2], r[3])
                for r in self.db.execute("SELECT source_key, id, path, hash FROM posts")}

    def set_post(self, key: str, item_id: str, path: str, hash: str) -> None:
        self.set_posts([(key, item_id, path, hash)])

    def set_posts(self, rows: Sequence[tuple[str, str, str, str]]) -> None:
        self.db.executemany("INSERT INTO posts(source_key, id, path, hash) VALUES (?,?,?,?) "
                            "ON CONFLICT(source_key, id) DO UPDATE SET path=excluded.path, hash=excluded.hash", rows)

    def delete_post(self, key: str, item_id: str) -> None:
        self.db.execute("DELETE FROM posts WHERE source_key = ? AND id = ?", (key, item_id))

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))


_UPDATE_ITEM = ("UPDATE items SET guid=?, link=?, title=?, author=?, published=?, has_date=?, updated=?, "
                "last_seen=?, content=CAST(? AS TEXT), html=?, cover=?, tags=?, hash=?, fulltext=?, "
                "fingerprint=COALESCE(?, fingerprint) WHERE source_key=? AND id=?")


def content_and_hash(e: Entry) -> tuple[str | bytes, str]:
    """(the content to bind, e.content_hash()): the content's UTF-8, as parse read it from the feed or else encoded
    once, for its hash and for the row (bound into CAST(? AS TEXT), the same text in a UTF-8 database)."""
    content = e.content_utf8_bytes()
    if content is None:
        try:
            content = e.content.encode()
        except UnicodeEncodeError:  # a lone surrogate: binding the text fails, as it always did
            return e.content, e.content_hash()
    return content, e.content_hash(content)


def _write_rows(db: sqlite3.Connection, rows: list[IngestRow], known: dict[tuple[str, str], _Known],
                seq_of: dict[tuple[str, str], int], now: float) -> UpsertResult:
    """upsert_entries' statements, in the rows' order: each run of new rows in one executemany (the journal
    triggers number their changes in that same order). Flags are bound as 0/1, which is what SQLite stores for
    a bool too; sqlite3 first looks for an adapter for a bool, and failing costs two AttributeErrors."""
    new = changed = 0
    inserts: list[tuple[Any, ...]] = []
    for row in rows:
        e, html, fulltext = row.entry, row.html, int(row.fulltext)
        old = known.get((e.source_key, e.id))
        content, h = content_and_hash(e)
        tags = _json_list(e.tags)
        if old is None:
            published = _ts(e.published) if e.published else now
            inserts.append((e.source_key, e.id, e.guid, e.link, e.title, e.author, published,
                            int(e.published is not None), _ts(e.updated), now, now, content, html, e.cover, tags, h,
                            str(row.state), fulltext, _json_list(row.keywords), row.fingerprint, row.story,
                            seq_of.get((e.source_key, e.id))))
            new += row.state == _PUBLISHED  # (ItemState.PUBLISHED: ~1,300 instructions a read, Enum's lookup)
            continue
        if inserts:
            db.executemany(_INSERT_ITEM, inserts)
            inserts = []
        if old.state not in (_PUBLISHED, _FILTERED) or old.hash == h:
            db.execute("UPDATE items SET last_seen = ? WHERE source_key = ? AND id = ?", (now, e.source_key, e.id))
            continue
        # An undated item keeps its first-seen date, so its post does not move on every edit.
        published = _ts(e.published) if e.published else old.published
        if old.fulltext and not fulltext:
            html, fulltext = old.html, 1
        db.execute(_UPDATE_ITEM, (e.guid, e.link, e.title, e.author, published, int(e.published is not None),
                                  _ts(e.updated), now, content, html, e.cover, tags, h, fulltext, row.fingerprint,
                                  e.source_key, e.id))
        changed += old.state == _PUBLISHED
    if inserts:
        db.executemany(_INSERT_ITEM, inserts)
    return UpsertResult(new, changed)


@dataclass(frozen=True, slots=True)
class _Known:
    """What upsert_entries needs of an item already stored."""

    hash: str
    state: str
    published: float
    fulltext: bool
    html: str


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the block raises; then `ended(committed)`."""

    def __init__(self, db: sqlite3.Connection, ended: Callable[[bool], None] | None = None):
        self.db, self.ended = db, ended

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        except BaseException:
            if self.ended is not None:
                self.ended(False)
            raise
        if self.ended is not None:
            self.ended(exc_type is None)
