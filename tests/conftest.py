from __future__ import annotations

import os
import sys
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
    s = FeedServer().start()
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


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """The URL of a fresh, empty database on the session's cluster."""
    return pg_cluster.create_database()


@pytest.fixture(params=["sqlite", "postgres"])
def store_at(request, tmp_path) -> str:
    """A fresh SQLite file or PostgreSQL database for a store-dependent test (SPEC §11: the same results from
    either)."""
    return str(tmp_path / "t.db") if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))
