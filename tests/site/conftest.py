"""The site's store-dependent tests take `store_at`: a fresh SQLite file or PostgreSQL database (SPEC §11:
the site is built the same from either)."""
from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def store_at(request, tmp_path) -> str:
    return str(tmp_path / "t.db") if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))
