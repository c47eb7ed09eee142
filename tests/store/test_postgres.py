"""What only the PostgreSQL store has to show (the contract suite covers the rest on both backends): schema
versions, text PostgreSQL cannot hold, streaming while writing, snapshots against a concurrent writer, items
stored once when two connections store them at once, and the run lock."""
from __future__ import annotations

import threading

import psycopg
import pytest

from tidings.errors import LockBusy, StoreVersionError
from tidings.store import open_store
from tidings.store.postgres import SCHEMA_VERSION, PostgresStore, RunLock, redact

from .test_contract import NOW, entry, row, source


@pytest.fixture
def pg(pg_url):
    store = PostgresStore(pg_url)
    store.sync_sources([source(1), source(2)])
    yield store
    store.close()


def _version(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT version FROM tidings_schema").fetchone()[0]


def test_schema_version_is_recorded_and_a_newer_one_refused(pg_url):
    PostgresStore(pg_url).close()
    PostgresStore(pg_url).close()  # opening a current database again changes nothing
    assert _version(pg_url) == SCHEMA_VERSION
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE tidings_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreVersionError, match="newer than this tidings knows"):
        PostgresStore(pg_url)


def test_two_processes_opening_a_new_database_migrate_it_once(pg_url):
    errors: list[BaseException] = []

    def open_close() -> None:
        try:
            PostgresStore(pg_url).close()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=open_close) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and _version(pg_url) == SCHEMA_VERSION


def test_nul_characters_are_dropped(pg):
    e = entry(source(1), 1, title="a\x00b", content="<p>x\x00y</p>")
    pg.upsert_entries([row(e)], now=NOW)
    it = next(pg.iter_items())
    assert (it.title, it.content, it.html) == ("ab", "<p>xy</p>", "<p>xy</p>")


def test_writes_between_streamed_rows(pg):
    """The Hexo writer reads bodies and writes the ledger while it streams items: in and out of transactions."""
    s1 = source(1)
    pg.upsert_entries([row(entry(s1, k)) for k in range(1200)], now=NOW)  # more than one batch of the cursor
    for in_tx in (False, True):
        n = 0
        with pg.transaction() if in_tx else pg.snapshot():
            for it in pg.iter_items(newest_first=False, bodies=False):
                pg.load_bodies(it)
                if in_tx:
                    pg.set_post(it.source_key, it.id, f"{it.id}.md", it.hash)
                n += 1
        assert n == 1200
    assert len(pg.posts()) == 1200
    stream = pg.iter_site_items()
    next(stream)
    stream.close()  # an abandoned stream leaves the connection usable
    pg.set_meta("k", "v")
    assert pg.get_meta("k") == "v" and sum(1 for _ in pg.iter_site_items(html="utf-8")) == 1200


def test_snapshot_sees_one_state_while_another_process_writes(pg, pg_url):
    s1 = source(1)
    pg.upsert_entries([row(entry(s1, 1))], now=NOW)
    with open_store(pg_url) as other, pg.snapshot():
        assert pg.count_items() == 1
        other.upsert_entries([row(entry(s1, 2))], now=NOW)
        assert pg.count_items() == 1 and len(list(pg.iter_site_items())) == 1
    assert pg.count_items() == 2


def test_the_same_items_stored_by_two_connections_are_stored_once(pg, pg_url):
    s1 = source(1)
    rows = [row(entry(s1, k)) for k in range(300)]
    with open_store(pg_url) as other:
        results = []
        threads = [threading.Thread(target=lambda st=st: results.append(st.upsert_entries(rows, now=NOW)))
                   for st in (pg, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sum(r.new for r in results) == 300 and pg.count_items() == 300


def test_run_lock_is_per_database(pg_cluster):
    a, b = pg_cluster.create_database(), pg_cluster.create_database()
    with RunLock(a), RunLock(b):
        with pytest.raises(LockBusy, match="another tidings process"):
            RunLock(a).__enter__()
    with RunLock(a):  # released when its holder ends
        pass


def test_redact():
    assert redact("postgresql://u:secret@db.example.com:5432/news") == "postgresql://u:***@db.example.com:5432/news"
    assert redact("postgresql://u@db.example.com/news") == "postgresql://u@db.example.com/news"
