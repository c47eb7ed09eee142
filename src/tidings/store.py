"""SQLite store: fetch state per source, every item once per (source, id), publishing ledgers.

Schema (other modules may read these tables; only this module writes `sources` and `items`):

sources  one row per feed URL ever configured; `active` = present in the current config.
items    one row per (source_key, id). `published` is unix seconds UTC (first-seen when the feed
         gave no date). `content` is the HTML as the feed gave it, `html` what is published when
         cleaning is on. `state`: published | filtered | deleted (a tombstone: never comes back).
posts    Hexo ledger: which file holds which item, and the hash of what was written.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .model import Entry, Source

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS sources(
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
  feed_title TEXT,
  last_note TEXT
);
CREATE TABLE IF NOT EXISTS items(
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
  fulltext INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (source_key, id)
);
CREATE INDEX IF NOT EXISTS items_by_date ON items(state, published DESC);
CREATE TABLE IF NOT EXISTS posts(
  source_key TEXT NOT NULL,
  id TEXT NOT NULL,
  path TEXT NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (source_key, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS posts_by_path ON posts(path);
"""


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
class StoredItem:
    """An item as publishers read it, joined with its source's current names."""

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
    html: str
    cover: str
    tags: list[str]
    hash: str
    category: str
    source: str
    channel: str

    @property
    def categories(self) -> list[str]:
        return [c for c in (self.category, self.source, self.channel) if c]


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt else None


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, timezone.utc) if ts is not None else None


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: the pipeline hands the connection to one ingest thread while it
        # fetches; it is never used from two threads at once.
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Add columns that later versions introduced to a store an earlier version created."""
        have = {r[1] for r in self.db.execute("PRAGMA table_info(items)")}
        if "fulltext" not in have:
            self.db.execute("ALTER TABLE items ADD COLUMN fulltext INTEGER NOT NULL DEFAULT 0")
        if "last_note" not in {r[1] for r in self.db.execute("PRAGMA table_info(sources)")}:
            self.db.execute("ALTER TABLE sources ADD COLUMN last_note TEXT")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- transactions -------------------------------------------------------------------------
    def transaction(self):
        return _Tx(self.db)

    # --- sources ------------------------------------------------------------------------------
    def sync_sources(self, sources: Iterable[Source]) -> None:
        """Record the configured sources (names may change between runs) and mark the rest inactive."""
        with self.transaction():
            self.db.execute("UPDATE sources SET active = 0")
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
        return SourceState(key, row[0], row[1], row[2], row[3], row[4] or 0, row[5] is not None or bool(has_items))

    def record_success(self, key: str, etag: str | None, last_modified: str | None,
                       feed_title: str | None = None, now: float | None = None,
                       next_fetch: float | None = None, note: str | None = None) -> None:
        """A fetch that worked; `note` is what was recovered or skipped on the way (None: nothing)."""
        now = now or time.time()
        self.db.execute(
            "UPDATE sources SET etag = ?, last_modified = ?, last_fetch = ?, last_success = ?, "
            "last_error = NULL, error_count = 0, feed_title = COALESCE(?, feed_title), next_fetch = ?, "
            "last_note = ? WHERE key = ?",
            (etag, last_modified, now, now, feed_title, next_fetch, note, key),
        )

    def record_failure(self, key: str, reason: str, now: float | None = None,
                       next_fetch: float | None = None) -> int:
        """Count one more failure in a row; returns the new count."""
        self.db.execute(
            "UPDATE sources SET last_fetch = ?, last_error = ?, error_count = error_count + 1, next_fetch = ? "
            "WHERE key = ?",
            (now or time.time(), reason, next_fetch, key),
        )
        row = self.db.execute("SELECT error_count FROM sources WHERE key = ?", (key,)).fetchone()
        return row[0] if row else 0

    def set_next_fetch(self, key: str, when: float) -> None:
        self.db.execute("UPDATE sources SET next_fetch = ? WHERE key = ?", (when, key))

    def next_fetch(self, key: str) -> float | None:
        row = self.db.execute("SELECT next_fetch FROM sources WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def source_rows(self) -> list[sqlite3.Row]:
        self.db.row_factory = sqlite3.Row
        try:
            return self.db.execute("SELECT * FROM sources WHERE active = 1 ORDER BY category, source, channel").fetchall()
        finally:
            self.db.row_factory = None

    # --- items --------------------------------------------------------------------------------
    def upsert_entries(self, entries: Iterable[tuple], now: float | None = None) -> tuple[int, int]:
        """Store (entry, html[, state[, fulltext]]) tuples. Returns (new, changed).

        `state` ('published' or 'filtered') applies to new items only: a known item keeps its state
        (tombstones stay dead; filters are re-evaluated only when they change, see `refilter`). A known
        full-text item keeps its fetched article when the feed's summary changes.
        """
        now = now or time.time()
        new = changed = 0
        entries = list(entries)
        known = self._known_rows(entries)
        with self.transaction():
            for e, html, *rest in entries:
                state = rest[0] if rest else "published"
                fulltext = bool(rest[1]) if len(rest) > 1 else False
                row = known.get((e.source_key, e.id))
                h = e.content_hash()
                tags = json.dumps(e.tags, ensure_ascii=False)
                if row is None:
                    published = _ts(e.published) if e.published else now
                    self.db.execute(
                        "INSERT INTO items(source_key, id, guid, link, title, author, published, has_date, updated, "
                        "first_seen, last_seen, content, html, cover, tags, hash, state, fulltext) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (e.source_key, e.id, e.guid, e.link, e.title, e.author, published, e.published is not None,
                         _ts(e.updated), now, now, e.content, html, e.cover, tags, h, state, fulltext),
                    )
                    new += state == "published"
                elif row[1] not in ("published", "filtered") or row[0] == h:
                    self.db.execute("UPDATE items SET last_seen = ? WHERE source_key = ? AND id = ?",
                                    (now, e.source_key, e.id))
                else:
                    # Keep the first-seen date for undated items so a post does not move on every edit.
                    published = _ts(e.published) if e.published else row[2]
                    if row[3] and not fulltext:
                        html, fulltext = row[4], True
                    self.db.execute(
                        "UPDATE items SET guid=?, link=?, title=?, author=?, published=?, has_date=?, updated=?, "
                        "last_seen=?, content=?, html=?, cover=?, tags=?, hash=?, fulltext=? "
                        "WHERE source_key=? AND id=?",
                        (e.guid, e.link, e.title, e.author, published, e.published is not None, _ts(e.updated), now,
                         e.content, html, e.cover, tags, h, fulltext, e.source_key, e.id),
                    )
                    changed += row[1] == "published"
        return new, changed

    def _known_rows(self, entries: list[tuple]) -> dict[tuple[str, str], tuple]:
        """The stored rows of these entries, in one query per source (not one per entry)."""
        by_source: dict[str, list[str]] = {}
        for e, *_ in entries:
            by_source.setdefault(e.source_key, []).append(e.id)
        rows = {}
        for key, ids in by_source.items():
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for r in self.db.execute(
                        f"SELECT id, hash, state, published, fulltext, html FROM items "
                        f"WHERE source_key = ? AND id IN ({marks})", (key, *chunk)):
                    rows[(key, r[0])] = r[1:]
        return rows

    def refilter(self, source: Source, accepts) -> tuple[int, int]:
        """Re-evaluate the source's published and filtered items with `accepts(row) -> bool`.

        Returns (now filtered, now published) counts of items whose state changed.
        """
        flips = []
        for r in self.db.execute("SELECT id, title, html, author, link, tags, state FROM items "
                                 "WHERE source_key = ? AND state IN ('published', 'filtered')", (source.key,)):
            ok = accepts(title=r[1], content=r[2], author=r[3], link=r[4],
                         categories=source.categories + json.loads(r[5]))
            want = "published" if ok else "filtered"
            if want != r[6]:
                flips.append((want, source.key, r[0]))
        if flips:
            with self.transaction():
                self.db.executemany("UPDATE items SET state = ? WHERE source_key = ? AND id = ?", flips)
        return (sum(f[0] == "filtered" for f in flips), sum(f[0] == "published" for f in flips))

    def ids_with_fulltext(self, key: str) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM items WHERE source_key = ? AND fulltext = 1", (key,))}

    def prune(self, source: Source, now: float | None = None) -> int:
        """Apply the source's retention: old or surplus items become tombstones (state 'pruned').

        A tombstone keeps its key so the item never comes back as new; its HTML is dropped to free space.
        """
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
                    "UPDATE items SET state = 'pruned', content = '', html = '' WHERE source_key = ? AND id = ?",
                    [(source.key, i) for i in doomed])
        return len(doomed)

    def known_ids(self, key: str) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM items WHERE source_key = ?", (key,))}

    def set_state(self, key: str, item_id: str, state: str) -> None:
        self.db.execute("UPDATE items SET state = ? WHERE source_key = ? AND id = ?", (state, key, item_id))

    _ITEM_COLUMNS = ("i.source_key, i.id, i.guid, i.link, i.title, i.author, i.published, i.updated, i.first_seen, "
                     "{bodies}, i.cover, i.tags, i.hash, s.category, s.source, s.channel")

    def iter_items(self, newest_first: bool = True, *, bodies: bool = True) -> Iterator[StoredItem]:
        """Published items of active sources, streamed (never all in memory).

        With `bodies=False`, `content` and `html` are left empty (load them with `load_bodies` for
        the few items a build actually renders): a build over an unchanged store then reads no HTML.
        """
        order = "DESC" if newest_first else "ASC"
        columns = self._ITEM_COLUMNS.format(bodies="i.content, i.html" if bodies else "'', ''")
        cur = self.db.execute(
            f"SELECT {columns} FROM items i JOIN sources s ON s.key = i.source_key "
            f"WHERE i.state = 'published' AND s.active = 1 ORDER BY i.published {order}, i.id"
        )
        for r in cur:
            yield StoredItem(r[0], r[1], r[2], r[3], r[4], r[5], _dt(r[6]), _dt(r[7]), _dt(r[8]), r[9], r[10],
                             r[11], json.loads(r[12]), r[13], r[14], r[15], r[16])

    def load_bodies(self, item: StoredItem) -> StoredItem:
        """Fill in `content` and `html` of an item streamed with `bodies=False`."""
        row = self.db.execute("SELECT content, html FROM items WHERE source_key = ? AND id = ?",
                              (item.source_key, item.id)).fetchone()
        if row:
            item.content, item.html = row
        return item

    def count_items(self, state: str = "published") -> int:
        return self.db.execute("SELECT count(*) FROM items WHERE state = ?", (state,)).fetchone()[0]

    # --- Hexo ledger --------------------------------------------------------------------------
    def posts(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(source_key, id) -> (path, hash) of every post written."""
        return {(r[0], r[1]): (r[2], r[3]) for r in self.db.execute("SELECT source_key, id, path, hash FROM posts")}

    def set_post(self, key: str, item_id: str, path: str, h: str) -> None:
        self.db.execute(
            "INSERT INTO posts(source_key, id, path, hash) VALUES (?,?,?,?) "
            "ON CONFLICT(source_key, id) DO UPDATE SET path=excluded.path, hash=excluded.hash",
            (key, item_id, path, h),
        )

    def delete_post(self, key: str, item_id: str) -> None:
        self.db.execute("DELETE FROM posts WHERE source_key = ? AND id = ?", (key, item_id))

    # --- meta ---------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                        (key, value))


class _Tx:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
