from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from feedserver import FeedServer  # noqa: E402

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
