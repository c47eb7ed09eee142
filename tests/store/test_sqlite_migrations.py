"""SQLite schema versions: stores written by earlier tidings open and are migrated, data kept; a store from
a newer tidings is refused with a clear error.

SQLite only: these are SQLite files of the past (user_version 0, before PostgreSQL existed) and SQLite's own
version mark (PRAGMA user_version); PostgreSQL's schema versions are checked in test_postgres.py and
test_migration_steps.py."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tidings.model import ItemState
from tidings.store import SQLiteStore, StoreVersionError
from tidings.store.sqlite import SCHEMA_VERSION

# Fixtures of the past: the schemas earlier tidings created, before schema versions (user_version 0).
FIRST_RELEASE = """
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
  feed_title TEXT
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
# Later unversioned stores: items.fulltext added, then sources.last_note (store.py's old _migrate).
WITH_FULLTEXT = FIRST_RELEASE + "ALTER TABLE items ADD COLUMN fulltext INTEGER NOT NULL DEFAULT 0;"
WITH_LAST_NOTE = WITH_FULLTEXT + "ALTER TABLE sources ADD COLUMN last_note TEXT;"

URL = "https://feeds.example.com/a.xml"


def old_store(path: Path, schema: str) -> None:
    db = sqlite3.connect(path)
    db.executescript(schema)
    db.execute("INSERT INTO sources(key, url, category, source, channel, etag, last_success) "
               "VALUES (?, ?, '金融', '源', '', '\"e1\"', 1700000000)", (URL, URL))
    db.execute("INSERT INTO items(source_key, id, guid, link, title, published, first_seen, last_seen, content, "
               "html, tags, hash) VALUES (?, '0123456789abcdef', 'g', 'https://e.example.com/1', '旧标题', "
               "1700000000, 1700000000, 1700000000, '<p>c</p>', '<p>h</p>', '[\"t\"]', 'abc')", (URL,))
    db.execute("INSERT INTO posts VALUES (?, '0123456789abcdef', '金融/旧标题.md', 'fp')", (URL,))
    db.execute("INSERT INTO meta VALUES ('filter:x', 'fp')")
    db.commit()
    db.close()


def columns(path: Path, table: str) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
    finally:
        db.close()


def user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


@pytest.mark.parametrize("schema", [FIRST_RELEASE, WITH_FULLTEXT, WITH_LAST_NOTE],
                         ids=["first-release", "with-fulltext", "with-last-note"])
def test_unversioned_store_is_migrated_and_keeps_its_data(tmp_path, schema):
    path = tmp_path / "old.db"
    old_store(path, schema)
    assert user_version(path) == 0
    with SQLiteStore(path) as store:
        items = list(store.iter_items())
        assert [(i.id, i.title, i.html, i.tags, i.categories) for i in items] == [
            ("0123456789abcdef", "旧标题", "<p>h</p>", ["t"], ["金融", "源"])]
        assert store.source_state(URL).etag == '"e1"'
        assert [(k.id, p.path) for k, p in store.posts().items()] == [("0123456789abcdef", "金融/旧标题.md")]
        assert store.get_meta("filter:x") == "fp"
        # The new columns exist and work.
        store.record_success(URL, None, None, note="recovered")
        assert store.source_health(since=0)[0].last_note == "recovered"
    assert user_version(path) == SCHEMA_VERSION
    assert "fulltext" in columns(path, "items") and "last_note" in columns(path, "sources")
    with SQLiteStore(path) as store:  # opening a current store again changes nothing
        assert store.count_items(ItemState.PUBLISHED) == 1
    assert user_version(path) == SCHEMA_VERSION


def test_new_store_gets_the_current_version(tmp_path):
    path = tmp_path / "new.db"
    SQLiteStore(path).close()
    assert user_version(path) == SCHEMA_VERSION
    assert {"fulltext"} <= columns(path, "items") and {"last_note"} <= columns(path, "sources")


def test_store_from_a_newer_tidings_is_refused(tmp_path):
    path = tmp_path / "future.db"
    SQLiteStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreVersionError, match=rf"schema version {SCHEMA_VERSION + 1}.*newer.*upgrade tidings"):
        SQLiteStore(path)
    assert user_version(path) == SCHEMA_VERSION + 1  # left as it was


def test_the_cli_refuses_a_newer_store_with_exit_2(tmp_path, capsys):
    from util import cli, write_config

    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": "http://127.0.0.1:9/feed"}])
    assert cli("sources", "check", "-c", cfg) in (0, 3)  # creates the store
    path = next(tmp_path.rglob("*.db"))
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    capsys.readouterr()
    assert cli("run", "-c", cfg) == 2
    assert "upgrade tidings" in capsys.readouterr().err


def test_the_cli_refuses_a_store_not_in_utf8_with_exit_2(tmp_path, capsys):
    from util import cli, write_config

    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": "http://127.0.0.1:9/feed"}])
    assert cli("sources", "check", "-c", cfg) in (0, 3)  # creates the store, to learn its path
    path = next(tmp_path.rglob("*.db"))
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    db = sqlite3.connect(path)
    db.execute("PRAGMA encoding = 'UTF-16be'")
    db.execute("CREATE TABLE kept(x)")
    db.close()
    capsys.readouterr()
    assert cli("run", "-c", cfg) == 2
    assert f"{path}: a SQLite database in UTF-16be" in capsys.readouterr().err
    assert sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall() == [("kept",)]
