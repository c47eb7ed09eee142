from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from feedserver import FeedServer  # noqa: E402
from pgcluster import Cluster, unavailable  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
# The contract's shared folder sits beside the checkout (as in CI); TIDINGS_SHARED points elsewhere.
SHARED = Path(os.environ.get("TIDINGS_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
CORPUS = SHARED / "corpus" / "feedparser"


def need_corpus() -> Path:
    """feedparser's corpus, or a skip when it is not beside this checkout; CI always has it, so there
    a missing corpus fails instead of passing unnoticed."""
    if not CORPUS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{CORPUS} is missing (set TIDINGS_SHARED to the shared/ folder)")
        pytest.skip(f"{CORPUS} is not beside this checkout (set TIDINGS_SHARED)")
    return CORPUS


@pytest.fixture
def server():
    s = FeedServer()
    # serve_forever polls for shutdown every 0.5 s by default: each test would wait that long in teardown
    s.thread = threading.Thread(target=s.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    s.start()
    yield s
    s.stop()


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL cluster for the whole session (tests/pgcluster.py), started on first use. Where
    PostgreSQL cannot run here the test is skipped; CI always can, so there it fails instead."""
    why = unavailable()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests cannot run: {why}")
        pytest.skip(why)
    cluster = Cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def _pg_pool() -> list[str]:
    """Databases of the session's cluster that tests are done with, emptied (pg_url)."""
    return []


@pytest.fixture
def pg_url(pg_cluster, _pg_pool):
    """The URL of a fresh, empty database on the session's cluster. Databases are recycled: after the test its
    sessions are ended and its schema dropped and made again, so the next test finds it empty (about 0.02 s,
    where CREATE DATABASE takes 0.15 s, 0.5 s on a busy machine)."""
    url = _pg_pool.pop() if _pg_pool else pg_cluster.create_database()
    yield url
    if _empty_schema(url):
        _pg_pool.append(url)


def _empty_schema(url: str) -> bool:
    """End every other session on the database, then drop the public schema (tidings' tables, procrastinate's
    and anything else a test made) and make it again; False when that failed (the database is left alone)."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '10s'")
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
            left = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                                "AND nspname NOT IN ('public', 'information_schema')").fetchone()
        return left is not None and left[0] == 0  # a schema of its own: not recycled
    except psycopg.Error:
        return False


BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def store_at(request, tmp_path) -> str:
    """A fresh SQLite file or PostgreSQL database for a store-dependent test (SPEC §11: the same results from
    either)."""
    return str(tmp_path / "t.db") if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="module", params=BACKENDS)
def module_store_at(request, tmp_path_factory) -> str:
    """store_at for a module-scoped fixture: one fresh store per module and backend."""
    if request.param == "sqlite":
        return str(tmp_path_factory.mktemp("store") / "t.db")
    return str(request.getfixturevalue("pg_cluster").create_database())


@pytest.fixture
def sibling_store_at(request, module_store_at, tmp_path) -> str:
    """A fresh store on the backend of module_store_at, for a test that compares with a module-scoped fixture's
    store (store_at beside module_store_at would run each test on all four pairs of backends)."""
    if module_store_at.startswith("postgresql:"):
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "t.db")


@pytest.fixture(params=BACKENDS)
def fresh_store(request):
    """For Hypothesis tests, whose examples share one value of each fixture: a function that opens a fresh,
    empty store at every call (a context manager). On SQLite a new file in a new temp dir; on PostgreSQL the
    test's one database, emptied first (creating a database per example would cost 0.15 s each).
    `fresh_store.backend` says which."""
    import tempfile
    from contextlib import contextmanager

    from util import empty_database

    from tidings.store import open_store

    url = str(request.getfixturevalue("pg_url")) if request.param == "postgres" else None

    @contextmanager
    def fresh():
        if url is None:
            with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp) / "t.db") as store:
                yield store
        else:
            empty_database(url)
            with open_store(url) as store:
                yield store

    fresh.backend = request.param  # type: ignore[attr-defined]
    return fresh
