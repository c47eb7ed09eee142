"""parse_feed(content_cover=False), as ingest calls it, leaves out only the cover parse guesses from an item's raw
content, which the cleaner replaces with its own pick from the cleaned HTML: the same entries otherwise, and the same
cleaned entries and HTML, on feedparser's corpus, the seed feed and bench/ingest.py's feeds."""
from __future__ import annotations

import random
import sys
from pathlib import Path

from conftest import CORPUS
from util import entry_fields

from tidings.config import Config
from tidings.jobs import Cleaner
from tidings.model import Source
from tidings.parse import ParseError, parse_feed

SOURCE = Source(url="https://feeds.example/rss", category="c", source="s", channel="ch")
ROOT = Path(__file__).resolve().parents[1]


def _bodies() -> list[bytes]:
    sys.path.insert(0, str(ROOT / "bench"))
    from ingest import feed

    paths = [*sorted(CORPUS.rglob("*.xml")), *sorted(CORPUS.rglob("*.json")),
             ROOT.parent / "shared" / "conformance" / "seed" / "feed.xml"]
    return [p.read_bytes() for p in paths if p.is_file()] + [feed(random.Random(k), k * 5, 5) for k in range(3)]


def test_no_content_cover_changes_only_the_guessed_cover_and_not_what_the_cleaner_makes() -> None:
    cleaner = Cleaner(Config(sources=[]))
    guessed = 0
    for body in _bodies():
        try:
            with_cover = parse_feed(body, SOURCE, url="http://127.0.0.1/feed").entries
        except ParseError:
            continue
        without = parse_feed(body, SOURCE, url="http://127.0.0.1/feed", content_cover=False).entries
        assert len(with_cover) == len(without)
        for a, b in zip(with_cover, without, strict=True):
            if a.cover and not a.cover_explicit:
                guessed += 1
                assert b.cover == ""
                b.cover = a.cover
            assert entry_fields(a) == entry_fields(b)
            b.cover = "" if not b.cover_explicit else b.cover
            (ca, html_a), (cb, html_b) = cleaner(a), cleaner(b)
            assert (entry_fields(ca), html_a) == (entry_fields(cb), html_b)
    assert guessed > 20
