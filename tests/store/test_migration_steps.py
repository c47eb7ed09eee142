"""Every schema version migrates to the current one with its data: a store is built at version v by the
migrations up to v (as a tidings of that version left it), given an item, and opened by this tidings.

test_sqlite_migrations.py covers the unversioned SQLite stores (user_version 0) and newer stores refused;
this file covers each versioned step after it, on both backends, so that a step that only works on an
empty store (a backfill, a trigger, a column default) fails here.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tidings.model import Entry
from tidings.store import IngestRow, ItemFilter, SQLiteStore, Store
from tidings.store import sqlite as sqlite_schema

URL = "https://feeds.example.com/a.xml"
ID = "0123456789abcdef"
T = 1_717_243_200.0  # 2024-06-01 12:00 UTC
WORD = "油价"


def _check_migrated(store: Store, has_stories: bool) -> None:
    """The item is there as it was stored, and what later versions added works on it."""
    [item] = list(store.iter_items())
    assert (item.source_key, item.id, item.title, item.html, item.tags) == (URL, ID, "旧标题", "<p>h</p>", ["t"])
    assert store.source_state(URL).etag == '"e1"'
    assert store.get_meta("filter:x") == "fp"
    assert [(k.id, p.path) for k, p in store.posts().items()] == [(ID, "金融/旧标题.md")]
    assert item.revision == 0
    if has_stories:
        assert (item.keywords, item.story) == ([WORD], ID)
        # the item already in a story got a story sequence number, and the counter goes on after it
        assert store.story_updates(None).last == 1
        # the keyword index is filled from the items already stored (a backfill), not only by later writes
        assert [i.id for i in store.iter_site_items(False, ItemFilter(keyword=WORD))] == [ID]
        assert store.tag_counts(1) == {WORD: 1}
    # the site's reads work on the rebuilt date index
    assert store.site_counts(ZoneInfo("UTC")).total == 1
    assert [i.id for i in store.iter_site_items(False)] == [ID]
    with store.snapshot():
        mark = store.site_journal_mark()
    edited = Entry(source_key=URL, id=ID, guid="g", link="https://e.example.com/1", title="新标题",
                   published=item.published, content="<p>c2</p>")
    assert store.upsert_entries([IngestRow(edited, "<p>h2</p>")], now=T + 60).changed == 1
    [after] = list(store.iter_items())
    assert after.title == "新标题" and after.revision > item.revision
    changes = store.site_changes(mark, 100)
    assert changes is not None and [(c.source_key, c.id) for c in changes] == [(URL, ID)]


# --- SQLite -------------------------------------------------------------------------------------------

def _sqlite_at(path: Path, version: int) -> bool:
    """A SQLite store at `version` holding one source, item, post and setting; whether it has stories."""
    db = sqlite3.connect(path)
    for steps in sqlite_schema.MIGRATIONS[:version]:
        for step in steps:
            if isinstance(step, sqlite_schema.Sql):
                db.execute(step.statement)
            else:
                db.execute(f"ALTER TABLE {step.table} ADD COLUMN {step.column} {step.declaration}")
    db.execute(f"PRAGMA user_version = {version}")
    db.execute("INSERT INTO sources(key, url, category, source, channel, etag, last_success) "
               "VALUES (?, ?, '金融', '源', '', '\"e1\"', ?)", (URL, URL, T))
    db.execute("INSERT INTO items(source_key, id, guid, link, title, published, first_seen, last_seen, content, "
               "html, tags, hash) VALUES (?, ?, 'g', 'https://e.example.com/1', '旧标题', ?, ?, ?, '<p>c</p>', "
               "'<p>h</p>', '[\"t\"]', 'abc')", (URL, ID, T, T, T))
    columns = {r[1] for r in db.execute("PRAGMA table_info(items)")}
    has_stories = "keywords" in columns
    if has_stories:
        db.execute("UPDATE items SET keywords = ?, story = id", (json.dumps([WORD], ensure_ascii=False),))
        if "revision" in columns:  # the update bumped it; the item is as first stored
            db.execute("UPDATE items SET revision = 0")
        if "story_seq" in columns:  # as a tidings of that version gives a story: with its sequence number
            db.execute("UPDATE items SET story_seq = 1")
            db.execute("UPDATE meta SET value = '1' WHERE key = 'story_seq'")
    db.execute("INSERT INTO posts VALUES (?, ?, '金融/旧标题.md', 'fp')", (URL, ID))
    db.execute("INSERT INTO meta VALUES ('filter:x', 'fp')")
    db.commit()
    db.close()
    return has_stories


def _user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


@pytest.mark.parametrize("version", range(1, sqlite_schema.SCHEMA_VERSION))
def test_sqlite_store_at_each_version_is_migrated_with_its_data(tmp_path, version):
    path = tmp_path / "old.db"
    has_stories = _sqlite_at(path, version)
    with SQLiteStore(path) as store:
        _check_migrated(store, has_stories)
    assert _user_version(path) == sqlite_schema.SCHEMA_VERSION
    db = sqlite3.connect(path)
    try:  # the site's counts read the date index only, not the rows (version 9)
        plan = " ".join(r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {sqlite_schema._CHANNELS}"))
    finally:
        db.close()
    assert "COVERING INDEX items_by_date" in plan


# --- PostgreSQL ---------------------------------------------------------------------------------------

def _postgres_at(url: str, version: int) -> bool:
    """A PostgreSQL database at `version`, as test _sqlite_at; whether it has stories."""
    import psycopg

    from tidings.store import postgres as pg_schema

    with psycopg.connect(url, autocommit=True) as conn:
        for steps in pg_schema.MIGRATIONS[:version]:
            for statement in steps:
                conn.execute(statement)
        conn.execute("CREATE TABLE tidings_schema(version integer NOT NULL)")
        conn.execute("INSERT INTO tidings_schema(version) VALUES (%s)", (version,))
        conn.execute("INSERT INTO sources(key, url, category, source, channel, etag, last_success) "
                     "VALUES (%s, %s, '金融', '源', '', '\"e1\"', %s)", (URL, URL, T))
        conn.execute("INSERT INTO items(source_key, id, guid, link, title, published, first_seen, last_seen, "
                     "content, html, tags, hash) VALUES (%s, %s, 'g', 'https://e.example.com/1', '旧标题', %s, %s, "
                     "%s, '<p>c</p>', '<p>h</p>', '[\"t\"]', 'abc')", (URL, ID, T, T, T))
        has_stories = conn.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'items' "
                                   "AND column_name = 'keywords'").fetchone() is not None
        if has_stories:
            conn.execute("UPDATE items SET keywords = %s, story = id", (json.dumps([WORD], ensure_ascii=False),))
            if version >= 4:  # the update bumped the item's revision; it is as first stored
                conn.execute("UPDATE items SET revision = 0")
            if version >= 5:  # as a tidings of that version gives a story: with its sequence number
                conn.execute("UPDATE items SET story_seq = 1")
                conn.execute("UPDATE meta SET value = '1' WHERE key = 'story_seq'")
        conn.execute("INSERT INTO posts VALUES (%s, %s, '金融/旧标题.md', 'fp')", (URL, ID))
        conn.execute("INSERT INTO meta VALUES ('filter:x', 'fp')")
    return has_stories


def _pg_versions() -> range:
    try:
        from tidings.store.postgres import SCHEMA_VERSION
    except ImportError:  # psycopg missing: the tests are skipped by pg_url anyway
        return range(1, 2)
    return range(1, SCHEMA_VERSION)


@pytest.mark.parametrize("version", _pg_versions())
def test_postgres_database_at_each_version_is_migrated_with_its_data(pg_url, version):
    import psycopg

    from tidings.store.postgres import SCHEMA_VERSION, PostgresStore

    has_stories = _postgres_at(pg_url, version)
    with PostgresStore(pg_url) as store:
        _check_migrated(store, has_stories)
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT version FROM tidings_schema").fetchone()
        index = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'items_by_date'").fetchone()
    assert row is not None and row[0] == SCHEMA_VERSION
    assert index is not None and index[0].endswith("(state, published DESC, id, source_key)")  # version 6
