"""Entry.content_hash hashes one joined string, or the content's UTF-8 between the rest's when the caller gives it:
the same digest as the part-by-part hash it replaced."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from tidings.model import Entry


def reference_hash(e: Entry) -> str:
    h = hashlib.sha256()
    for part in (e.title, e.link, e.author, e.content, e.cover, "\x1f".join(e.tags)):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    if e.published:
        h.update(e.published.isoformat().encode())
    return h.hexdigest()[:32]


texts = st.text(alphabet=st.characters(blacklist_categories=()), max_size=30)
dates = st.one_of(st.none(), st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))])))


@given(texts, texts, texts, texts, texts, st.lists(texts, max_size=3), dates)
def test_content_hash_equals_the_part_by_part_hash(title, link, author, content, cover, tags, published):
    e = Entry(source_key="k", id="0" * 16, title=title, link=link, author=author, content=content, cover=cover,
              tags=tags, published=published)
    assert e.content_hash() == reference_hash(e)
    assert e.content_hash(content.encode("utf-8", "surrogatepass")) == reference_hash(e)


def test_content_hash_of_lone_surrogates_and_a_dated_item():
    e = Entry(source_key="k", id="0" * 16, title="a\ud800", link="\udc00b", content="<p>正文</p>",
              published=datetime(2026, 11, 1, 8, 30, tzinfo=UTC), tags=["x", "y"])
    assert e.content_hash() == reference_hash(e)
    assert e.content_hash("<p>正文</p>".encode()) == reference_hash(e)


whole_seconds = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
    lambda d: d.replace(microsecond=0))


@given(st.one_of(whole_seconds, st.datetimes()), st.sampled_from([UTC, timezone(timedelta(hours=8)), None]))
def test_isoformat_is_the_methods(dt, tz):
    """model.isoformat's shortcut (UTC, whole seconds, years from 1000) against datetime.isoformat, on dates of every
    year with and without microseconds, in UTC, another zone and none."""
    from tidings.model import isoformat

    dt = dt.replace(tzinfo=tz)
    assert isoformat(dt) == dt.isoformat()
