"""SQLiteStore.upsert_entries binds runs of new rows with one executemany, flags as 0/1, JSON lists through
one encoder and the content as the UTF-8 bytes its hash was made of: the tables it leaves (items, the site's change
journal, item_keywords) must be those the code before it left, one execute per row with bools, json.dumps, the
content as text and Entry.content_hash (kept here as the reference)."""
from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.errors import StoreFormatError
from tidings.model import Entry, ItemState, Source
from tidings.store import IngestRow, open_store
from tidings.store.sqlite import _INSERT_ITEM, SQLiteStore, _json_list, content_and_hash

NOW = 1_800_000_000.0
SOURCE = Source(url="http://example.com/feed", category="新闻", source="例子", channel="频道")


def _entry(k: int, version: int = 0, **kw: object) -> Entry:
    fields: dict[str, object] = dict(
        source_key=SOURCE.key, id=f"{k:016x}", title=f"标题 {k} v{version}", link=f"https://example.com/{k}",
        guid=f"g{k}", author="作者" if k % 2 else "", content=f"<p>内容 {k} {version}</p>",
        published=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=k) if k % 3 else None,
        updated=datetime(2026, 11, 2, tzinfo=UTC) if k % 4 == 0 else None, cover="",
        tags=["標籤", "tag \"q\""] if k % 2 else [])
    fields.update(kw)
    return Entry(**fields)  # type: ignore[arg-type]  # keyword fields of a dataclass


def _row(e: Entry, *, state: ItemState = ItemState.PUBLISHED, fulltext: bool = False,
         keywords: tuple[str, ...] = ()) -> IngestRow:
    return IngestRow(e, f"<p>html {e.title}</p>", state, fulltext, keywords)


def ts(d: datetime | None) -> float | None:
    return d.timestamp() if d else None


def _reference_upsert(db: sqlite3.Connection, store: SQLiteStore, rows: list[IngestRow], now: float) -> None:
    """upsert_entries as it was: one execute per row, bools bound as they are, json.dumps per list."""
    known = store._known_rows(rows)
    with store.transaction():
        seq_of = store._new_items(rows, known, now)
        for row in rows:
            e, html, fulltext = row.entry, row.html, row.fulltext
            old = known.get((e.source_key, e.id))
            h = e.content_hash()
            tags = json.dumps(e.tags, ensure_ascii=False)
            if old is None:
                db.execute(_INSERT_ITEM.replace("CAST(? AS TEXT)", "?"), (
                    e.source_key, e.id, e.guid, e.link, e.title, e.author, ts(e.published) if e.published else now,
                    e.published is not None, ts(e.updated), now, now, e.content, html, e.cover, tags, h,
                    str(row.state), fulltext, json.dumps(list(row.keywords), ensure_ascii=False), row.fingerprint,
                    row.story, seq_of.get((e.source_key, e.id))))
            elif old.state not in ("published", "filtered") or old.hash == h:
                db.execute("UPDATE items SET last_seen = ? WHERE source_key = ? AND id = ?", (now, e.source_key, e.id))
            else:
                published = ts(e.published) if e.published else old.published
                if old.fulltext and not fulltext:
                    html, fulltext = old.html, True
                db.execute(
                    "UPDATE items SET guid=?, link=?, title=?, author=?, published=?, has_date=?, updated=?, "
                    "last_seen=?, content=?, html=?, cover=?, tags=?, hash=?, fulltext=?, "
                    "fingerprint=COALESCE(?, fingerprint) WHERE source_key=? AND id=?",
                    (e.guid, e.link, e.title, e.author, published, e.published is not None, ts(e.updated), now,
                     e.content, html, e.cover, tags, h, fulltext, row.fingerprint, e.source_key, e.id))


ODD_CONTENT = "<p>\x00 nul, \U0001f600, \u2028, \ufeff\x7f é</p>"


def _batches() -> list[list[IngestRow]]:
    first = [_row(_entry(k), fulltext=k == 4, keywords=("关键", "词") if k % 2 else ()) for k in range(8)]
    first[5] = _row(_entry(5), state=ItemState.FILTERED)
    # New rows before, between and after changed and unchanged ones: the journal's order must not move.
    second = [_row(_entry(20)), _row(_entry(1, 1)), _row(_entry(21), keywords=("新",)), _row(_entry(2)),
              _row(_entry(4, 1)), _row(_entry(5, 1), state=ItemState.FILTERED), _row(_entry(22)), _row(_entry(3, 2)),
              _row(_entry(6, 1, content=ODD_CONTENT)), _row(_entry(23, content=ODD_CONTENT))]
    return [first, second]


def _tables(path: Path) -> dict[str, list[tuple[object, ...]]]:
    db = sqlite3.connect(path)
    try:
        return {t: db.execute(f"SELECT *, {typed} FROM {t} ORDER BY {order}").fetchall()
                for t, typed, order in (("items", "typeof(has_date), typeof(fulltext)", "source_key, id"),
                                        ("site_changes", "1", "seq"), ("item_keywords", "1", "word, id"))}
    finally:
        db.close()


def test_upsert_leaves_the_tables_the_per_row_code_left(tmp_path: Path):
    fast_path, slow_path = tmp_path / "fast.db", tmp_path / "slow.db"
    for path in (fast_path, slow_path):
        with open_store(path) as store:
            assert isinstance(store, SQLiteStore)
            store.sync_sources([SOURCE])
            for k, rows in enumerate(_batches()):
                if path == fast_path:
                    store.upsert_entries(rows, now=NOW + k)
                else:
                    _reference_upsert(store.db, store, rows, NOW + k)
    fast, slow = _tables(fast_path), _tables(slow_path)
    assert len(fast["items"]) == 12 and len(fast["site_changes"]) > 12 and fast["item_keywords"]
    assert fast == slow
    assert sum(r[11] == ODD_CONTENT for r in fast["items"]) == 2  # column 11: content, as text


def test_json_list_is_json_dumps():
    for values in ([], ["a"], ["標籤", "tag \"q\"", "\\", "\u2028"], ("t", "u")):
        assert _json_list(values) == json.dumps(list(values), ensure_ascii=False)


def test_iter_items_reads_what_item_from_row_of_each_row_read(tmp_path: Path):
    """iter_items parses each distinct tags text once (items_from_rows) and reads '[]' keywords without json:
    the items must be those the row-by-row reading with json.loads made, and no two share a tags list."""
    from tidings.store.base import StoredItem, item_columns
    from tidings.store.sqlite import _VISIBLE

    from .row_reference import item_from_row

    with open_store(tmp_path / "s.db") as store:
        assert isinstance(store, SQLiteStore)
        store.sync_sources([SOURCE])
        for k, rows in enumerate(_batches()):
            store.upsert_entries(rows, now=NOW + k)
        for newest_first, bodies, content in ((False, True, False), (True, True, True), (False, False, False)):
            columns = item_columns("i.html" if bodies else "''", "i.content" if bodies and content else "''")
            order = "DESC" if newest_first else "ASC"
            reference: list[StoredItem] = []
            for r in store.db.execute(f"SELECT {columns} {_VISIBLE} ORDER BY i.published {order}, i.id"):
                reference.append(item_from_row(r))
            items = list(store.iter_items(newest_first, bodies=bodies, content=content))
            assert items == reference and any(i.keywords for i in items) and any(i.tags for i in items)
            assert len({id(i.tags) for i in items}) == len(items)


texts = st.text(alphabet=st.characters(codec=None, blacklist_categories=()), max_size=12)


@given(texts, texts, texts, texts, texts, st.lists(texts, max_size=3), st.booleans())
def test_content_and_hash_is_content_hash_and_the_content_as_utf8(title, link, author, content, cover, tags, dated):
    e = Entry(source_key="k", id="0" * 16, title=title, link=link, author=author, content=content, cover=cover,
              tags=tags, published=datetime(2026, 11, 1, tzinfo=UTC) if dated else None)
    bound, h = content_and_hash(e)
    assert h == e.content_hash()
    try:
        assert bound == content.encode()
    except UnicodeEncodeError:
        assert bound == content  # a lone surrogate: the text is bound, and fails to bind as before


def test_a_database_not_in_utf8_is_refused_and_left_as_it_was(tmp_path: Path):
    """Content and html are bound and read as UTF-8 bytes, the same text only in a UTF-8 database: a SQLite
    file in UTF-16 (which tidings never makes) is refused by name, before anything is written to it."""
    path = tmp_path / "utf16.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA encoding = 'UTF-16le'")
    db.execute("CREATE TABLE x(y)")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreFormatError, match=r"utf16\.db: a SQLite database in UTF-16le; tidings reads"):
        open_store(path)
    assert path.read_bytes() == before and not (tmp_path / "utf16.db-wal").exists()


@given(texts, st.booleans())
def test_content_and_hash_takes_the_kept_utf8_only_for_the_content_it_encodes(content, reassigned):
    """Parse keeps (content, its UTF-8) of a cut CDATA section on the entry: content_and_hash binds and hashes those
    bytes while the entry's content is that very str; once the content is another str, its own UTF-8."""
    if any(0xD800 <= ord(c) <= 0xDFFF for c in content):
        return  # parse never keeps bytes of a text UTF-8 cannot hold
    kept = "".join(["<p>", content, "</p>"])  # a str of its own, as a decoded section is
    e = Entry(source_key="k", id="0" * 16, title="t", content=kept, content_utf8=(kept, kept.encode()))
    plain = Entry(source_key="k", id="0" * 16, title="t", content=kept)
    if reassigned:  # e.g. cleaning dropped characters: a new str, equal or not
        e.content = plain.content = "".join(["<p>", content, "</p>!"])
    assert content_and_hash(e) == content_and_hash(plain) == (e.content.encode(), plain.content_hash())
    assert e.content_utf8_bytes() is (None if reassigned else e.content_utf8[1])


def test_parsed_entries_store_what_entries_without_their_kept_bytes_store(tmp_path: Path):
    from tidings.parse import parse_feed

    long = "段落\r\n" * 100
    body = (f"<rss><channel><item><title>t</title><guid>g</guid><description><![CDATA[<p>{long}</p>]]></description>"
            f"</item><item><title>u</title><guid>h</guid><description>&lt;p&gt;x&lt;/p&gt;</description></item>"
            "</channel></rss>").encode()
    entries = parse_feed(body, SOURCE).entries
    assert entries[0].content_utf8_bytes() == entries[0].content.encode() and entries[1].content_utf8 is None
    tables = []
    for n, keep in enumerate((True, False)):
        with open_store(tmp_path / f"{n}.db") as store:
            store.sync_sources([SOURCE])
            for e in parse_feed(body, SOURCE).entries:
                if not keep:
                    e.content_utf8 = None
                store.upsert_entries([_row(e)], now=NOW)
        tables.append(_tables(tmp_path / f"{n}.db"))
    assert tables[0] == tables[1]


def test_none_and_bytes_bind_through_the_registered_adapters_as_without_them(tmp_path: Path):
    """tidings.store.sqlite registers None and bytes as their own adapters (sqlite3's failed look-up for an adapter
    costs more): a statement binds the same values, types and text with them as without."""
    from tidings.store import sqlite as module

    keys = [(type(None), sqlite3.PrepareProtocol), (bytes, sqlite3.PrepareProtocol)]
    assert [sqlite3.adapters.get(k) for k in keys] == [module._null, module._blob]
    values = [None, b"", b"\x00a", "正文".encode(), "x", 1, 1.5]
    db = sqlite3.connect(tmp_path / "a.db")
    db.execute("CREATE TABLE t(v, w TEXT)")

    def bound() -> list[tuple[object, ...]]:
        db.execute("DELETE FROM t")
        db.executemany("INSERT INTO t VALUES (?, CAST(? AS TEXT))", [(v, v) for v in values])
        return db.execute("SELECT v, typeof(v), w, typeof(w) FROM t ORDER BY rowid").fetchall()

    registered = bound()
    saved = {k: sqlite3.adapters.pop(k) for k in keys}
    try:
        assert bound() == registered
    finally:
        sqlite3.adapters.update(saved)
    assert registered[0] == (None, "null", None, "null") and registered[3][2:] == ("正文", "text")
