"""The PostgreSQL store (psycopg 3): the same Store protocol and the same results as the SQLite store, for a
database several machines share (SPEC §11).

The tables are SQLite's, typed for PostgreSQL: times stay unix seconds in `double precision` (so every
comparison, order and per-day count is computed from the same numbers as on SQLite), flags are `boolean`,
tags the same JSON text. The keys and names sort as on SQLite (by code point: COLLATE "C"), so ties come
out in the same order. Text cannot hold NUL in PostgreSQL: NUL characters are dropped on the way in.
Only this module reads or writes these tables.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import psycopg
import psycopg_pool
from psycopg import pq

from ..errors import ConfigError, LockBusy, StoreVersionError
from ..model import ItemState, Source
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
    SiteChange,
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

# An update of these item columns changes what a built site shows (an unchanged item's last_seen does not).
SITE_COLUMNS = "guid, link, title, author, published, updated, html, cover, tags, hash, state, story, keywords"

# MIGRATIONS[v] takes a database from version v to v + 1; a new one runs them all. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the schema of SQLite's version 3
        "CREATE TABLE meta(key text COLLATE \"C\" PRIMARY KEY, value text)",
        """CREATE TABLE sources(
  key text COLLATE "C" PRIMARY KEY,
  url text NOT NULL,
  category text COLLATE "C" NOT NULL DEFAULT '',
  source text COLLATE "C" NOT NULL DEFAULT '',
  channel text COLLATE "C" NOT NULL DEFAULT '',
  active boolean NOT NULL DEFAULT true,
  etag text,
  last_modified text,
  last_fetch double precision,
  last_success double precision,
  last_error text,
  error_count integer NOT NULL DEFAULT 0,
  next_fetch double precision,
  feed_title text,
  last_note text
)""",
        """CREATE TABLE items(
  source_key text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  guid text NOT NULL DEFAULT '',
  link text NOT NULL DEFAULT '',
  title text NOT NULL,
  author text NOT NULL DEFAULT '',
  published double precision NOT NULL,
  has_date boolean NOT NULL DEFAULT true,
  updated double precision,
  first_seen double precision NOT NULL,
  last_seen double precision NOT NULL,
  content text NOT NULL,
  html text NOT NULL,
  cover text NOT NULL DEFAULT '',
  tags text NOT NULL DEFAULT '[]',
  hash text NOT NULL,
  state text NOT NULL DEFAULT 'published',
  fulltext boolean NOT NULL DEFAULT false,
  PRIMARY KEY (source_key, id)
)""",
        "CREATE INDEX items_by_date ON items(state, published DESC, id)",
        """CREATE TABLE posts(
  source_key text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  path text NOT NULL,
  hash text NOT NULL,
  PRIMARY KEY (source_key, id)
)""",
        "CREATE UNIQUE INDEX posts_by_path ON posts(path)",
    ),
    (  # 2: stories and keywords (SQLite's version 4)
        "ALTER TABLE items ADD COLUMN story text COLLATE \"C\"",
        "ALTER TABLE items ADD COLUMN keywords text NOT NULL DEFAULT '[]'",
        "ALTER TABLE items ADD COLUMN fingerprint bytea",
        "CREATE INDEX items_by_story ON items(story) WHERE story IS NOT NULL",
        """CREATE TABLE story_bands(
  band bigint NOT NULL,
  published double precision NOT NULL,
  source_key text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  PRIMARY KEY (band, published, source_key, id)
)""",
    ),
    (  # 3: the site's change journal and each site's build record and files (SQLite's version 5; store/site.py)
        """CREATE TABLE site_changes(seq bigserial PRIMARY KEY, source_key text COLLATE "C" NOT NULL,
  id text COLLATE "C", published double precision, story text COLLATE "C", state text,
  xid xid8 NOT NULL DEFAULT pg_current_xact_id())""",
        """CREATE FUNCTION tidings_item_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.state = 'published' THEN
      INSERT INTO site_changes(source_key, id) VALUES (NEW.source_key, NEW.id);
    END IF;
  ELSIF OLD.state = 'published' OR (TG_OP = 'UPDATE' AND NEW.state = 'published') THEN
    INSERT INTO site_changes(source_key, id, published, story, state)
      VALUES (OLD.source_key, OLD.id, OLD.published, OLD.story, OLD.state);
  END IF;
  RETURN NULL;
END $$""",
        f"CREATE TRIGGER site_item_changed AFTER INSERT OR DELETE OR UPDATE OF {SITE_COLUMNS} ON items "
        "FOR EACH ROW EXECUTE FUNCTION tidings_item_changed()",
        """CREATE FUNCTION tidings_source_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO site_changes(source_key) VALUES (OLD.key);
  RETURN NULL;
END $$""",
        "CREATE TRIGGER site_source_changed AFTER UPDATE OF category, source, channel, active ON sources FOR EACH ROW "
        "WHEN (OLD.category IS DISTINCT FROM NEW.category OR OLD.source IS DISTINCT FROM NEW.source "
        "OR OLD.channel IS DISTINCT FROM NEW.channel OR OLD.active IS DISTINCT FROM NEW.active) "
        "EXECUTE FUNCTION tidings_source_changed()",
        "CREATE TABLE site_builds(site text COLLATE \"C\" PRIMARY KEY, position text NOT NULL, state text NOT NULL)",
        """CREATE TABLE site_files(site text COLLATE "C" NOT NULL, path text COLLATE "C" NOT NULL,
  digest text NOT NULL, fp text NOT NULL, search text NOT NULL DEFAULT '', PRIMARY KEY (site, path))""",
        """CREATE TABLE item_keywords(word text COLLATE "C" NOT NULL, published double precision NOT NULL,
  id text COLLATE "C" NOT NULL, source_key text COLLATE "C" NOT NULL, PRIMARY KEY (word, published, id, source_key))""",
        "INSERT INTO item_keywords SELECT DISTINCT k, i.published, i.id, i.source_key "
        "FROM items i, jsonb_array_elements_text(i.keywords::jsonb) k ON CONFLICT DO NOTHING",
        """CREATE FUNCTION tidings_item_keywords() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM item_keywords WHERE word IN (SELECT jsonb_array_elements_text(OLD.keywords::jsonb))
      AND published = OLD.published AND id = OLD.id AND source_key = OLD.source_key;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO item_keywords SELECT DISTINCT k, NEW.published, NEW.id, NEW.source_key
      FROM jsonb_array_elements_text(NEW.keywords::jsonb) k ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$""",
        "CREATE TRIGGER item_keywords_added AFTER INSERT OR DELETE ON items FOR EACH ROW "
        "EXECUTE FUNCTION tidings_item_keywords()",
        "CREATE TRIGGER item_keywords_changed AFTER UPDATE OF keywords, published ON items FOR EACH ROW "
        "WHEN (OLD.keywords IS DISTINCT FROM NEW.keywords OR OLD.published IS DISTINCT FROM NEW.published) "
        "EXECUTE FUNCTION tidings_item_keywords()",
    ),
    (  # 4: a revision per item, one more at every change a page shows (SQLite's version 6)
        "ALTER TABLE items ADD COLUMN revision integer NOT NULL DEFAULT 0",
        """CREATE FUNCTION tidings_item_revised() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.revision := OLD.revision + 1;
  RETURN NEW;
END $$""",
        f"CREATE TRIGGER item_revised BEFORE UPDATE OF {SITE_COLUMNS} ON items FOR EACH ROW "
        "EXECUTE FUNCTION tidings_item_revised()",
    ),
    (  # 5: the story band index moves to memory, built from fingerprints; story sequence numbers (SQLite's 7)
        "ALTER TABLE items ADD COLUMN story_seq bigint",
        "UPDATE items SET story_seq = n.seq FROM (SELECT source_key, id, row_number() OVER "
        "(ORDER BY published, source_key, id) AS seq FROM items WHERE story IS NOT NULL) n "
        "WHERE items.source_key = n.source_key AND items.id = n.id",
        "CREATE INDEX items_by_story_seq ON items(story_seq) WHERE story_seq IS NOT NULL",
        "INSERT INTO meta(key, value) SELECT 'story_seq', coalesce(max(story_seq), 0)::text FROM items "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        "INSERT INTO meta(key, value) VALUES ('story_epoch', md5(random()::text || clock_timestamp()::text)) "
        "ON CONFLICT (key) DO NOTHING",
        "DROP TABLE story_bands",
    ),
    (  # 6: the date index also holds source_key, in the site stream's order (SQLite's version 9: its counts
       # read no row)
        "DROP INDEX items_by_date",
        "CREATE INDEX items_by_date ON items(state, published DESC, id, source_key)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
# Transaction-level advisory lock around migrations, so two processes opening a new database migrate it once.
_MIGRATE_LOCK = 0x7469_6469_6E67_0001
# Session-level advisory lock a `tidings run` holds on its database (RunLock).
_RUN_LOCK = 0x7469_6469_6E67_0002
# Transaction-level advisory lock around story assignment (story_updates, and taking story sequence numbers).
_STORY_LOCK = 0x7469_6469_6E67_0003
_STORY_META = "SELECT key, value FROM meta WHERE key IN ('story_epoch', 'story_seq')"


def migrate(conn: psycopg.Connection[Any], where: str = "store") -> int:
    """Bring the schema to SCHEMA_VERSION in one transaction; returns the version found."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS tidings_schema(version integer NOT NULL)")
        row = conn.execute("SELECT max(version) FROM tidings_schema").fetchone()
        found = int(row[0]) if row and row[0] is not None else 0
        if found > SCHEMA_VERSION:
            raise StoreVersionError(
                f"{where} has schema version {found}, newer than this tidings knows ({SCHEMA_VERSION}): "
                "it was written by a newer tidings; upgrade tidings to use it")
        for steps in MIGRATIONS[found:]:
            for statement in steps:
                conn.execute(statement)
        if found != SCHEMA_VERSION:
            conn.execute("DELETE FROM tidings_schema")
            conn.execute("INSERT INTO tidings_schema(version) VALUES (%s)", (SCHEMA_VERSION,))
    return found


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def connect(url: str, *, application: str = "tidings") -> psycopg.Connection[Any]:
    """An autocommit connection to a UTF8 database; ConfigError (exit 2) when there is none."""
    try:
        conn = psycopg.connect(url, autocommit=True, application_name=application, connect_timeout=30)
    except psycopg.Error as e:
        reason = " ".join(str(e).split())
        raise ConfigError(f"cannot connect to the store {redact(url)}: {reason}") from None
    try:
        row = conn.execute("SHOW server_encoding").fetchone()
        encoding = row[0] if row else "?"
        if encoding != "UTF8":
            raise ConfigError(f"the store {redact(url)} has encoding {encoding}: tidings needs a UTF8 database "
                              "(CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0)")
    except BaseException:
        conn.close()
        raise
    return conn


# --- rows -----------------------------------------------------------------------------------------------

_PUBLISHED = ItemState.PUBLISHED.value
_FILTERED = ItemState.FILTERED.value
_PRUNED = ItemState.PRUNED.value
# Items in a story the story index holds: those that can be listed again (deleted and pruned ones never are).
_GROUPABLE = (_PUBLISHED, _FILTERED)

# The items publishers see: published, of a source still configured.
_VISIBLE = "FROM items i JOIN sources s ON s.key = i.source_key WHERE i.state = 'published' AND s.active"
# The html column as text, or as its UTF-8 bytes undecoded (html_utf8=True).
_HTML_COLUMN = {False: "i.html", True: "convert_to(i.html, 'UTF8')"}

# The same buckets as SQLite's: floor(floor(published) / 900) in integers (PostgreSQL's `/` truncates too).
_BUCKETS = ("SELECT CASE WHEN fl >= 0 THEN fl / 900 ELSE -((899 - fl) / 900) END AS bucket, count(*) FROM "
            f"(SELECT floor(i.published)::bigint AS fl {_VISIBLE}) b GROUP BY bucket")
# An item the listings show: not in a story, or its story's first visible item (published, source, id).
# (j.state || ''): by the story index; SQLite's planner took the state index, every published item per row.
_LISTED = ("(i.story IS NULL OR NOT EXISTS (SELECT 1 FROM items j JOIN sources t ON t.key = j.source_key "
           "WHERE j.story = i.story AND (j.state || '') = 'published' AND t.active "
           "AND (j.published, j.source_key, j.id) < (i.published, i.source_key, i.id)))")
_CHANNELS = f"SELECT s.category, s.source, s.channel, count(*) {_VISIBLE} GROUP BY s.key"
_HEADS = (f"SELECT substr(i.id, 1, 1), count(*) {_VISIBLE} AND i.published >= %s AND i.published < %s "
          "GROUP BY 1")


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt else None



def _t(s: str) -> str:
    """Text as PostgreSQL can hold it (no NUL)."""
    return s.replace("\x00", "") if "\x00" in s else s


def _keywords(row: IngestRow) -> str:
    return _t(json.dumps(list(row.keywords), ensure_ascii=False))



@dataclass(frozen=True, slots=True)
class _Known:
    """What upsert_entries needs of an item already stored."""

    hash: str
    state: str
    published: float
    fulltext: bool
    html: str


_MAX_STORY_SEQ = "SELECT coalesce(max(story_seq), 0) FROM items WHERE story_seq IS NOT NULL"


class _StoryTables:
    """PostgresStore's story methods (Store protocol, "stories"): the items' story and story sequence columns."""

    db: psycopg.Connection[Any]

    if TYPE_CHECKING:  # PostgresStore's
        def _in_transaction(self) -> bool: ...

        def transaction(self) -> AbstractContextManager[None]: ...

    def ungrouped(self, key: str, ids: Sequence[str]) -> list[Ungrouped]:
        rows = self.db.execute(
            "SELECT id, fingerprint, published FROM items WHERE source_key = %s AND id = ANY(%s) "
            "AND state = 'published' AND story IS NULL AND fingerprint IS NOT NULL ORDER BY published, id",
            (key, list(ids))).fetchall()
        return [Ungrouped(r[0], bytes(r[1]), r[2]) for r in rows]

    def _story_lock(self) -> None:
        if self._in_transaction():
            # One process at a time assigns stories, so two reposts stored at once by two workers cannot
            # each found a story of its own, and story sequence numbers are taken in commit order; held
            # until the transaction ends.
            self.db.execute("SELECT pg_advisory_xact_lock(%s)", (_STORY_LOCK,))

    def _story_meta(self) -> dict[str, str]:
        return dict(self.db.execute(_STORY_META).fetchall())

    def story_updates(self, after: int | None) -> StoryUpdates:
        # The lock, the sequence and the items grouped since `after` in one round trip (a pipeline): the lock
        # is held to the commit and other workers wait for it. Each statement still reads after the lock.
        with self.db.pipeline():
            self._story_lock()
            meta_rows = self.db.execute(_STORY_META)
            grouped = (self.db.execute(
                "SELECT story_seq, published, fingerprint FROM items WHERE story_seq > %s AND state IN (%s, %s) "
                "AND fingerprint IS NOT NULL ORDER BY story_seq", (after, *_GROUPABLE)) if after is not None else None)
        meta = dict(meta_rows.fetchall())
        if "story_epoch" not in meta:  # an emptied database: the sequence starts over
            self.db.execute("INSERT INTO meta(key, value) VALUES ('story_epoch', %s) ON CONFLICT (key) DO NOTHING",
                            (secrets.token_hex(8),))
            meta = self._story_meta()
        if "story_seq" in meta:
            last = int(meta["story_seq"])
        else:
            row = self.db.execute(_MAX_STORY_SEQ).fetchone()
            last = int(row[0]) if row else 0
        items = [GroupedItem(r[0], r[1], bytes(r[2])) for r in grouped.fetchall()] if grouped is not None else []
        return StoryUpdates(meta["story_epoch"], last, items)

    def given_story_seqs(self) -> Mapping[tuple[str, str], int]:
        return {}  # workers take numbers between each other's feeds; story_updates reads in the lock's round trip

    def grouped_between(self, since: float, until: float) -> list[GroupedItem]:
        return [GroupedItem(r[0], r[1], bytes(r[2])) for r in self.db.execute(
            "SELECT story_seq, published, fingerprint FROM items WHERE state IN (%s, %s) AND published >= %s "
            "AND published < %s AND story_seq IS NOT NULL AND fingerprint IS NOT NULL",
            (*_GROUPABLE, since, until)).fetchall()]

    def story_candidates(self, seqs: Sequence[int]) -> list[StoryCandidate]:
        if not seqs:
            return []
        rows = self.db.execute(
            "SELECT story_seq, source_key, id, story, fingerprint, published FROM items "
            "WHERE story_seq = ANY(%s) AND state = 'published' "
            "AND fingerprint IS NOT NULL", (list(seqs),)).fetchall()
        return [StoryCandidate(r[0], r[1], r[2], r[3], bytes(r[4]), r[5]) for r in rows]

    def _take_story_seqs(self, n: int) -> int:
        """Reserve n story sequence numbers; returns the first (inside the caller's transaction)."""
        self._story_lock()
        row = self.db.execute("UPDATE meta SET value = (value::bigint + %s)::text WHERE key = 'story_seq' "
                              "RETURNING value", (n,)).fetchone()
        if row is None:  # a database whose meta was emptied: go on from its items
            row = self.db.execute(f"INSERT INTO meta(key, value) VALUES ('story_seq', (({_MAX_STORY_SEQ}) + %s)::text) "
                                  "RETURNING value", (n,)).fetchone()
        assert row is not None
        return int(row[0]) - n + 1

    def _new_story_seqs(self, rows: Sequence[IngestRow], known: Container[tuple[str, str]],
                        now: float) -> dict[tuple[str, str], int]:
        """The story sequence numbers of the rows upsert_entries inserts with a story (base.new_story_seqs)."""
        return new_story_seqs(rows, known, now, self._take_story_seqs)

    def set_stories(self, key: str, stories: Sequence[tuple[str, str]]) -> None:
        if not stories:
            return
        # Inside ingest's transaction (stories set after the insert) no savepoint of its own: two round trips
        # less while the story lock is held.
        outer = nullcontext() if self._in_transaction() else self.transaction()
        with outer, self.db.cursor() as cur:
            first = self._take_story_seqs(len(stories))
            cur.executemany("UPDATE items SET story = %s, story_seq = %s WHERE source_key = %s AND id = %s",
                            [(story, first + k, key, item_id) for k, (item_id, story) in enumerate(stories)])

    def set_story(self, key: str, item_id: str, story: str, bands: Sequence[int] = (),
                  published: float | None = None) -> None:
        self.set_stories(key, [(item_id, story)])

    def tag_counts(self, min_items: int) -> dict[str, int]:
        if self.db.execute("SELECT 1 FROM item_keywords LIMIT 1").fetchone() is None:  # (as SQLite's)
            return {}
        return dict(self.db.execute(
            "SELECT k.value, count(*) FROM items i JOIN sources s ON s.key = i.source_key "
            "CROSS JOIN LATERAL jsonb_array_elements_text(i.keywords::jsonb) AS k(value) "
            f"WHERE i.state = 'published' AND s.active AND {_LISTED} GROUP BY k.value HAVING count(*) >= %s",
            (min_items,)).fetchall())

    def stories(self) -> dict[str, list[StoryMember]]:
        return stories_from_rows(self.db.execute(
                "SELECT i.story, i.source_key, i.id, i.published, i.title, i.link, s.category, s.source, s.channel "
                f"{_VISIBLE} AND i.story IN "
                f"(SELECT i.story {_VISIBLE} AND i.story IS NOT NULL GROUP BY i.story HAVING count(*) > 1) "
                "ORDER BY i.story, i.published, i.source_key, i.id").fetchall())



class _SiteTables(SiteTables):
    """SiteTables on PostgreSQL: its SQL has `?` parameters, psycopg takes `%s`; and journal positions."""

    db: psycopg.Connection[Any]

    _ACTIVE = "s.active"
    _JOIN_IN_ORDER = "JOIN"

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.execute(sql.replace("?", "%s"), args).fetchall()

    def _run(self, sql: str, args: Sequence[Any] = ()) -> None:
        self.db.execute(sql.replace("?", "%s"), args)

    def _run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.db.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), rows)

    # Sequence numbers are taken before commit, so a higher one can commit before a lower one: a position is
    # the snapshot itself, and the changes after it are those written by transactions it does not see.
    def site_journal_mark(self) -> str:
        row = self.db.execute("SELECT pg_current_snapshot()::text").fetchone()
        return str(row[0]) if row else ""

    def site_changes(self, since: str, limit: int) -> list[SiteChange] | None:
        unseen = "NOT pg_visible_in_snapshot(xid, %s::pg_snapshot)" if since else "true"
        args = (since,) if since else ()
        if self.db.execute(f"SELECT 1 FROM site_changes WHERE {unseen} LIMIT 1 OFFSET %s", (*args, limit)).fetchone():
            return None
        return [SiteChange.from_row(r) for r in self.db.execute(
            f"SELECT source_key, id, published, story, state FROM site_changes WHERE {unseen} ORDER BY seq", args)]

    def _forget_seen_changes(self) -> None:
        self.db.execute("DELETE FROM site_changes WHERE xid < "
                        "(SELECT min(pg_snapshot_xmin(position::pg_snapshot)) FROM site_builds)")


class PostgresStore(_StoryTables, _SiteTables):
    """The Store protocol on one PostgreSQL database (one connection, autocommit outside transactions)."""

    shared_writers: ClassVar[bool] = True

    def __init__(self, url: str):
        self.url = url
        self.db = connect(url)
        try:
            migrate(self.db, redact(url))
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _in_transaction(self) -> bool:
        return self.db.info.transaction_status != pq.TransactionStatus.IDLE

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.db.transaction():  # a savepoint inside another transaction
            yield

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        if self._in_transaction():
            yield
            return
        with self.db.transaction():
            self.db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def _stream(self, query: str, args: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Rows of a query, fetched in batches through a server-side cursor, so other statements may run on
        this connection between rows (as SQLite allows). Outside a transaction the cursor is WITH HOLD."""
        with self.db.cursor(name=f"tidings_{id(self):x}_{time.monotonic_ns()}",
                            withhold=not self._in_transaction()) as cur:
            cur.itersize = 500
            cur.execute(query, args)
            yield from cur

    # --- sources ---------------------------------------------------------------------------------------
    def sync_sources(self, sources: Iterable[Source]) -> None:
        sources = list(sources)
        with self.transaction():
            # Only the sources that left the config are switched off (see SQLiteStore.sync_sources).
            self.db.execute("UPDATE sources SET active = false WHERE active AND NOT key = ANY(%s)",
                            ([_t(s.key) for s in sources],))
            with self.db.cursor() as cur:
                cur.executemany(
                    "INSERT INTO sources(key, url, category, source, channel, active) VALUES (%s,%s,%s,%s,%s,true) "
                    "ON CONFLICT(key) DO UPDATE SET url=excluded.url, category=excluded.category, "
                    "source=excluded.source, channel=excluded.channel, active=true",
                    [(_t(s.key), _t(s.url), _t(s.category), _t(s.source), _t(s.channel)) for s in sources])

    def source_state(self, key: str) -> SourceState:
        row = self.db.execute(
            "SELECT etag, last_modified, last_success, last_error, error_count, last_fetch, "
            "EXISTS(SELECT 1 FROM items WHERE source_key = %s) FROM sources WHERE key = %s",
            (key, key)).fetchone()
        if row is None:
            return SourceState(key, None, None, None, None, 0, False)
        return SourceState(key, row[0], row[1], row[2], row[3], row[4] or 0, row[5] is not None or row[6])

    def record_success(self, key: str, etag: str | None, last_modified: str | None,
                       feed_title: str | None = None, now: float | None = None,
                       next_fetch: float | None = None, note: str | None = None) -> None:
        now = now or time.time()
        self.db.execute(
            "UPDATE sources SET etag = %s, last_modified = %s, last_fetch = %s, last_success = %s, "
            "last_error = NULL, error_count = 0, feed_title = COALESCE(%s, feed_title), next_fetch = %s, "
            "last_note = %s WHERE key = %s",
            (_n(etag), _n(last_modified), now, now, _n(feed_title), next_fetch, _n(note), key))

    def record_failure(self, key: str, reason: str, now: float | None = None,
                       next_fetch: float | None = None) -> int:
        row = self.db.execute(
            "UPDATE sources SET last_fetch = %s, last_error = %s, error_count = error_count + 1, next_fetch = %s "
            "WHERE key = %s RETURNING error_count", (now or time.time(), _t(reason), next_fetch, key)).fetchone()
        return int(row[0]) if row else 0

    def set_next_fetch(self, key: str, when: float) -> None:
        self.db.execute("UPDATE sources SET next_fetch = %s WHERE key = %s", (when, key))

    def next_fetch(self, key: str) -> float | None:
        row = self.db.execute("SELECT next_fetch FROM sources WHERE key = %s", (key,)).fetchone()
        return row[0] if row else None

    def source_health(self, since: float) -> list[SourceHealth]:
        rows = self.db.execute(
            "SELECT s.key, s.url, s.category, s.source, s.channel, s.last_success, s.last_error, s.last_note, "
            "s.error_count, s.next_fetch, coalesce(f.recent, 0), f.latest FROM sources s LEFT JOIN "
            "(SELECT source_key, count(*) FILTER (WHERE state = 'published' AND first_seen >= %s) AS recent, "
            "max(first_seen) AS latest FROM items GROUP BY source_key) f ON f.source_key = s.key "
            "WHERE s.active ORDER BY s.category, s.source, s.channel", (since,)).fetchall()
        return [SourceHealth(key=r[0], url=r[1], category=r[2], source=r[3], channel=r[4], last_success=r[5],
                             last_error=r[6], last_note=r[7], error_count=r[8] or 0, next_fetch=r[9],
                             items_since=r[10], last_first_seen=r[11]) for r in rows]

    # --- items -----------------------------------------------------------------------------------------
    def upsert_entries(self, rows: Iterable[IngestRow], now: float | None = None) -> UpsertResult:
        now = now or time.time()
        rows = list(rows)
        known = self._known_rows(rows)
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        seen: dict[str, list[str]] = {}  # source -> ids only seen again
        changed = 0
        for row in rows:
            e, html, fulltext = row.entry, _t(row.html), row.fulltext
            old = known.get((e.source_key, e.id))
            h = e.content_hash(e.content_utf8_bytes())  # the feed's bytes of the content when parse kept them
            tags = _t(json.dumps(e.tags, ensure_ascii=False))
            if old is None:
                published = _ts(e.published) if e.published else now
                inserts.append((e.source_key, e.id, _t(e.guid), _t(e.link), _t(e.title), _t(e.author), published,
                                e.published is not None, _ts(e.updated), now, now, _t(e.content), html,
                                _t(e.cover), tags, h, str(row.state), fulltext, _keywords(row), row.fingerprint,
                                None if row.story is None else _t(row.story)))
            elif old.state not in (_PUBLISHED, _FILTERED) or old.hash == h:
                seen.setdefault(e.source_key, []).append(e.id)
            else:
                # An undated item keeps its first-seen date, so its post does not move on every edit.
                published = _ts(e.published) if e.published else old.published
                if old.fulltext and not fulltext:
                    html, fulltext = old.html, True
                updates.append((_t(e.guid), _t(e.link), _t(e.title), _t(e.author), published, e.published is not None,
                                _ts(e.updated), now, _t(e.content), html, _t(e.cover), tags, h, fulltext,
                                row.fingerprint, e.source_key, e.id))
                changed += old.state == _PUBLISHED
        with self.transaction(), self.db.cursor() as cur:
            seq_of = self._new_story_seqs(rows, known, now)
            new = self._insert(cur, [(*i, seq_of.get((i[0], i[1]))) for i in inserts])
            for key, ids in seen.items():
                cur.execute("UPDATE items SET last_seen = %s WHERE source_key = %s AND id = ANY(%s)", (now, key, ids))
            if updates:
                cur.executemany(
                    "UPDATE items SET guid=%s, link=%s, title=%s, author=%s, published=%s, has_date=%s, "
                    "updated=%s, last_seen=%s, content=%s, html=%s, cover=%s, tags=%s, hash=%s, fulltext=%s, "
                    "fingerprint=COALESCE(%s, fingerprint) WHERE source_key=%s AND id=%s", updates)
        return UpsertResult(new, changed)

    @staticmethod
    def _insert(cur: psycopg.Cursor[Any], inserts: list[tuple[Any, ...]]) -> int:
        """Insert new items once per (source, id), whoever else stores them; returns the published ones."""
        if not inserts:
            return 0
        cur.executemany(
            "INSERT INTO items(source_key, id, guid, link, title, author, published, has_date, updated, "
            "first_seen, last_seen, content, html, cover, tags, hash, state, fulltext, keywords, fingerprint, "
            "story, story_seq) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
            "ON CONFLICT (source_key, id) DO NOTHING RETURNING state", inserts, returning=True)
        new = 0
        while True:
            new += sum(1 for r in cur.fetchall() if r[0] == _PUBLISHED)
            if not cur.nextset():
                return new

    def _known_rows(self, rows: list[IngestRow]) -> dict[tuple[str, str], _Known]:
        """The stored rows of these entries, in one query per source (not one per entry)."""
        by_source: dict[str, list[str]] = {}
        for row in rows:
            by_source.setdefault(row.entry.source_key, []).append(row.entry.id)
        known: dict[tuple[str, str], _Known] = {}
        for key, ids in by_source.items():
            for r in self.db.execute("SELECT id, hash, state, published, fulltext, html FROM items "
                                     "WHERE source_key = %s AND id = ANY(%s)", (key, ids)):
                known[(key, r[0])] = _Known(r[1], r[2], r[3], r[4], r[5])
        return known

    def refilter(self, source: Source, accepts: Accepts) -> RefilterResult:
        flips: list[tuple[str, str, str]] = []
        for r in self.db.execute("SELECT id, title, html, author, link, tags, state FROM items "
                                 "WHERE source_key = %s AND state IN ('published', 'filtered')", (source.key,)):
            ok = accepts(title=r[1], content=r[2], author=r[3], link=r[4],
                         categories=source.categories + json.loads(r[5]))
            want = _PUBLISHED if ok else _FILTERED
            if want != r[6]:
                flips.append((want, source.key, r[0]))
        if flips:
            with self.transaction(), self.db.cursor() as cur:
                cur.executemany("UPDATE items SET state = %s WHERE source_key = %s AND id = %s", flips)
        return RefilterResult(sum(f[0] == _FILTERED for f in flips), sum(f[0] == _PUBLISHED for f in flips))

    def prune(self, source: Source, now: float | None = None) -> int:
        # A pruned item keeps its key, so it never comes back as new; its HTML is dropped to free space.
        now = now or time.time()
        doomed: set[str] = set()
        if source.retain_days:
            doomed |= {r[0] for r in self.db.execute(
                "SELECT id FROM items WHERE source_key = %s AND state = 'published' AND published < %s",
                (source.key, now - source.retain_days * 86400))}
        if source.retain_per_source:
            doomed |= {r[0] for r in self.db.execute(
                "SELECT id FROM items WHERE source_key = %s AND state = 'published' "
                "ORDER BY published DESC, id OFFSET %s", (source.key, source.retain_per_source))}
        if doomed:
            self.db.execute("UPDATE items SET state = %s, content = '', html = '' WHERE source_key = %s "
                            "AND id = ANY(%s)", (_PRUNED, source.key, sorted(doomed)))
        return len(doomed)

    def known_ids(self, key: str, among: Sequence[str] | None = None) -> set[str]:
        if among is None:
            return {r[0] for r in self.db.execute("SELECT id FROM items WHERE source_key = %s", (key,))}
        return {r[0] for r in self.db.execute("SELECT id FROM items WHERE source_key = %s AND id = ANY(%s)",
                                              (key, list(among)))}

    def set_state(self, key: str, item_id: str, state: ItemState) -> None:
        self.db.execute("UPDATE items SET state = %s WHERE source_key = %s AND id = %s",
                        (ItemState(state).value, key, item_id))

    def count_items(self, state: ItemState = ItemState.PUBLISHED) -> int:
        row = self.db.execute("SELECT count(*) FROM items WHERE state = %s", (ItemState(state).value,)).fetchone()
        return int(row[0]) if row else 0

    def iter_items(self, newest_first: bool = True, *, bodies: bool = True, content: bool = True,
                   html_utf8: bool = False) -> Iterator[StoredItem]:
        order = "DESC" if newest_first else "ASC"
        columns = item_columns(_HTML_COLUMN[html_utf8] if bodies else "''", "i.content" if bodies and content else "''")
        # items_from_rows: a source's items share their tags, parsed once
        yield from items_from_rows(self._stream(f"SELECT {columns} {_VISIBLE} ORDER BY i.published {order}, i.id"))

    def load_bodies(self, item: StoredItem, *, content: bool = True, html_utf8: bool = False) -> StoredItem:
        raw = "content" if content else "''"
        row = self.db.execute(f"SELECT {raw}, {_HTML_COLUMN[html_utf8]} FROM items i "
                              "WHERE source_key = %s AND id = %s",
                              (item.source_key, item.id)).fetchone()
        if row:
            item.content, item.html = row
        return item

    def replace_urls(self, prefixes: Sequence[str], replacement: str) -> int:
        def replaced(column: str) -> str:
            expr = column
            for _ in prefixes:
                expr = f"replace({expr}, %s, %s)"
            return expr

        pairs = [v for p in prefixes for v in (p, replacement)]
        found = " OR ".join(f"strpos({c}, %s) > 0" for c in ("html", "cover") for _ in prefixes)
        cur = self.db.execute(f"UPDATE items SET html = {replaced('html')}, cover = {replaced('cover')} "
                              f"WHERE {found}", (*pairs, *pairs, *prefixes, *prefixes))
        return cur.rowcount

    # --- site reads ------------------------------------------------------------------------------------
    def site_counts(self, tz: ZoneInfo, heads_over: int | None = None) -> Counts:
        return count_site(self.db.execute(_CHANNELS).fetchall(), self.db.execute(_BUCKETS).fetchall(),
                          lambda start, end: self.db.execute(_HEADS, (start, end)).fetchall(), tz, heads_over)

    def iter_site_items(self, html: SiteHtml = True, where: ItemFilter = ALL_ITEMS) -> Iterator[StoredItem]:
        col = _HTML_COLUMN[html == "utf-8"] if html else "''"
        tail, args = self._site_items_sql(where)
        with self.snapshot():  # the sources' names and the rows of one snapshot
            sources = self._site_sources()
            columns = item_columns(col, content=None, names=False)
            yield from items_from_rows(self._stream(f"SELECT {columns} {tail.replace('?', '%s')}", args), sources)

    def item_html(self, source_key: str, item_id: str, limit: int | None = None) -> str:
        col = f"substr(html, 1, {int(limit)})" if limit else "html"
        row = self.db.execute(f"SELECT {col} FROM items WHERE source_key = %s AND id = %s",
                              (source_key, item_id)).fetchone()
        return str(row[0]) if row else ""

    # --- Hexo ledger and settings ----------------------------------------------------------------------
    def posts(self) -> dict[ItemKey, Post]:
        return {ItemKey(r[0], r[1]): Post(r[2], r[3])
                for r in self.db.execute("SELECT source_key, id, path, hash FROM posts")}

    def set_post(self, key: str, item_id: str, path: str, hash: str) -> None:
        self.set_posts([(key, item_id, path, hash)])

    def set_posts(self, rows: Sequence[tuple[str, str, str, str]]) -> None:
        with self.db.cursor() as cur:
            cur.executemany("INSERT INTO posts(source_key, id, path, hash) VALUES (%s,%s,%s,%s) "
                            "ON CONFLICT(source_key, id) DO UPDATE SET path=excluded.path, hash=excluded.hash",
                            [(key, item_id, _t(path), hash) for key, item_id, path, hash in rows])

    def delete_post(self, key: str, item_id: str) -> None:
        self.db.execute("DELETE FROM posts WHERE source_key = %s AND id = %s", (key, item_id))

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta(key, value) VALUES (%s, %s) "
                        "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (_t(key), _t(value)))


def _n(s: str | None) -> str | None:
    return _t(s) if s is not None else None


class RunLock:
    """One `tidings run` per database at a time: a session advisory lock, held while its connection lives
    (a process that dies releases it with its connection)."""

    def __init__(self, url: str):
        self.url = url
        self.db: psycopg.Connection[Any] | None = None

    def __enter__(self) -> Self:
        self.db = connect(self.url, application=f"tidings run (pid {os.getpid()})")
        row = self.db.execute("SELECT pg_try_advisory_lock(%s)", (_RUN_LOCK,)).fetchone()
        if not row or not row[0]:
            holder = self.db.execute(
                "SELECT a.application_name, a.client_addr FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND (l.classid::bigint << 32 | l.objid::bigint) = %s", (_RUN_LOCK,)).fetchone()
            self.db.close()
            self.db = None
            who = f"{holder[0] or 'tidings'}" + (f" on {holder[1]}" if holder and holder[1] else "") if holder else "?"
            raise LockBusy(f"another tidings process ({who}) is using {redact(self.url)}; "
                           "try again when it has finished")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.db is not None:
            self.db.close()  # closing the session releases its advisory lock
            self.db = None


def queue_pool(**kwargs: Any) -> psycopg_pool.AsyncConnectionPool:
    """The job queue's connection pool (procrastinate's pool_factory). procrastinate would have it test each
    connection with a round trip before lending it (docs/scaling.md); a connection that died instead fails
    its job, and the worker's `maintain` queues the source again."""
    return psycopg_pool.AsyncConnectionPool(**{**kwargs, "check": None})


class HostSlots:
    """`per_host` across processes: slot i of a host is the session advisory lock (hash(host), i), so every
    process on this database (each `tidings worker`) shares the same `per_host` slots per host.

    One connection per process, used from threads under a lock. A session may take its own advisory lock
    again, so the slots this process holds are skipped by their key, not by asking the server. A process
    that dies loses its session, and its slots with it.
    """

    def __init__(self, url: str):
        self.db = connect(url, application=f"tidings host slots (pid {os.getpid()})")
        self._lock = threading.Lock()
        self.held: set[tuple[int, int]] = set()

    @staticmethod
    def host_key(host: str) -> int:
        """A signed 32-bit key for a host (two hosts may share one: then they share slots, which errs polite)."""
        return int.from_bytes(hashlib.blake2b(host.lower().encode(), digest_size=4).digest(), "big", signed=True)

    def try_acquire(self, host: str, per_host: int) -> int | None:
        """A free slot of `host` (now held by this process), or None when all `per_host` are taken."""
        key = self.host_key(host)
        with self._lock:
            for slot in range(per_host):
                if (key, slot) in self.held:
                    continue
                row = self.db.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)", (key, slot)).fetchone()
                if row and row[0]:
                    self.held.add((key, slot))
                    return slot
        return None

    def release(self, host: str, slot: int) -> None:
        key = self.host_key(host)
        with self._lock:
            if (key, slot) in self.held:
                self.db.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", (key, slot))
                self.held.discard((key, slot))

    def close(self) -> None:
        self.db.close()


class JobTables:
    """What the worker adds to and asks of procrastinate's tables beside the store's (one connection, used
    from threads under a lock). procrastinate creates and owns those tables; this only adds an index and
    reads them."""

    # procrastinate_fetch_job_v2 checks each candidate for another job holding its lock (procrastinate#1242).
    # With a lock per source that check scanned every waiting job; this index makes it one lookup (docs/scaling.md).
    INDEXES = (
        "CREATE INDEX IF NOT EXISTS tidings_jobs_lock_id ON procrastinate_jobs (lock, id) "
        "WHERE status IN ('todo', 'doing')",
    )

    def __init__(self, url: str):
        self.db = connect(url, application=f"tidings worker jobs (pid {os.getpid()})")
        self.db.autocommit = True
        self._lock = threading.Lock()

    def add_indexes(self) -> None:
        with self._lock:
            for sql in self.INDEXES:
                try:
                    self.db.execute(sql)
                except psycopg.errors.UniqueViolation:
                    pass  # another worker created it at the same moment

    def without_job(self, lock_prefix: str) -> list[tuple[str, float | None]]:
        """(key, next_fetch) of the active sources that have no job waiting (queueing lock `<prefix><key>`)
        and none running (lock `<prefix><key>`): both are read through procrastinate's partial unique indexes,
        so this costs one index probe per source, not a listing of the queue."""
        with self._lock:
            return [(k, n) for k, n in self.db.execute(
                "SELECT s.key, s.next_fetch FROM sources s WHERE s.active "
                "AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.status = 'todo' "
                "AND j.queueing_lock = %(p)s || s.key) "
                "AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.status = 'doing' "
                "AND j.lock = %(p)s || s.key) "
                "ORDER BY s.key", {"p": lock_prefix}).fetchall()]

    def close(self) -> None:
        self.db.close()
