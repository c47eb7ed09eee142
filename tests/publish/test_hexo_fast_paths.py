"""build_posts' fast paths give what one post at a time gives: journal lines written in batches, directory
listings in place of a stat per post, the `<!-- more -->` regex skipped when a substring scan says it cannot
match, and the surrogate check left to the encoding of the post."""
from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.model import Entry, Source
from tidings.publish import hexo
from tidings.publish.hexo import _BLANK_LINES, _MORE, body_html, build_posts, render_seed
from tidings.store import IngestRow, open_store
from tidings.store.base import StoredItem

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SOURCES = [Source(url=f"https://feeds.example/{n}", category="新闻", source="src", channel=ch, limit=100)
           for n, ch in enumerate(["a", "b", "x.md", ""])]


def _rows(titles: list[str], body: str = "<p>正文 {k}</p>\n<p>二</p>") -> list[IngestRow]:
    rows = []
    for k, title in enumerate(titles):
        src = SOURCES[k % len(SOURCES)]
        e = Entry(source_key=src.key, id=f"{k:016x}", title=title, link=f"https://e.example/{k}", guid=f"g{k}",
                  published=T0 + timedelta(minutes=k), content=body.format(k=k))
        rows.append(IngestRow(e, e.content))
    return rows


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _builds(tmp: Path, rounds: list[list[str]], preset: str) -> tuple[list[dict[str, bytes]], list[object]]:
    store = open_store(tmp / "s.db")
    store.sync_sources(SOURCES)
    blog = tmp / "blog"
    # A directory where a post would go: the post takes another name.
    (blog / "source" / "_posts" / "新闻" / "src" / "a" / "title 1.md").mkdir(parents=True)
    trees, reports = [], []
    for n, titles in enumerate(rounds):
        store.upsert_entries(_rows(titles), now=1e9 + n)
        reports.append(build_posts(store, blog, preset=preset, timezone="Asia/Shanghai"))
        trees.append(_tree(blog))
    ledger = store.posts()
    store.close()
    return trees, reports + [ledger]


ROUNDS = [
    [f"title {k % 7}" for k in range(40)],  # shared titles: suffixed names
    [f"title {(k + 3) % 7}" for k in range(40)],  # every title moves: paths freed and taken in one build
    [f"title {(k + 3) % 7}" for k in range(45)],  # a few new posts beside unchanged ones (stat, not listing)
    ["x"] * 45,
]


@pytest.mark.parametrize("preset", ["seed", "hexo"])
def test_batched_and_listed_builds_equal_one_post_at_a_time(tmp_path, monkeypatch, preset):
    fast = _builds(tmp_path / "fast", ROUNDS, preset)
    monkeypatch.setattr(hexo, "_BATCH", 1)
    monkeypatch.setattr(hexo, "_listing", None)  # would raise if asked: every path is stat'ed
    real_files = hexo._Files
    monkeypatch.setattr(hexo, "_Files", lambda root, listed: real_files(root, False))
    slow = _builds(tmp_path / "slow", ROUNDS, preset)
    assert fast == slow


def test_every_path_is_journaled_before_its_file_is_written(tmp_path, monkeypatch):
    store = open_store(tmp_path / "s.db")
    store.sync_sources(SOURCES)
    store.upsert_entries(_rows([f"t{k % 9}" for k in range(150)]), now=1e9)
    posts = tmp_path / "blog" / "source" / "_posts"
    real = hexo.replace_atomic
    written: list[str] = []

    def replace_atomic(path, data):
        rel = os.path.relpath(path, posts).replace(os.sep, "/")
        assert rel in hexo._Journal(posts / hexo.JOURNAL).pending()
        written.append(rel)
        real(path, data)

    monkeypatch.setattr(hexo, "replace_atomic", replace_atomic)
    report = build_posts(store, tmp_path / "blog")
    assert len(written) == report.written == 150
    assert not (posts / hexo.JOURNAL).exists()


def _item(html: str) -> StoredItem:
    return StoredItem(source_key="k", id="0123456789abcdef", guid="", link="", title="t", author="", published=T0,
                      updated=None, first_seen=T0, content=html, html=html, cover="", tags=[], hash="h",
                      category="c", source="s", channel="")


def _reference_body(html: str) -> str:
    html = _MORE.sub("", html)
    html = _BLANK_LINES.sub("", html)
    return html.strip("\n") + "\n" if html.strip() else ""


html_text = st.text(alphabet=st.sampled_from(list("<!-mor> \t\r\f\v\nMa\x85\u2028\u3000\x1c")), max_size=40)


@given(html_text)
def test_body_html_equals_the_regexes_alone(html):
    assert body_html(_item(html), True) == _reference_body(html)
    assert body_html(_item(html), True, checked=False) == _reference_body(html)


def test_a_lone_surrogate_is_dropped_from_the_post(tmp_path):
    item = _item("<p>a\ud800b</p>")
    with pytest.raises(UnicodeEncodeError):
        render_seed(item, True, checked=False).encode("utf-8")
    assert hexo._post_bytes(item, True, "seed", hexo.ZoneInfo("UTC")) == render_seed(item, True).encode("utf-8")
    assert b"<p>ab</p>" in hexo._post_bytes(item, True, "seed", hexo.ZoneInfo("UTC"))


def test_the_utf8_whitespace_is_what_str_isspace_and_backslash_s_take():
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    spaces = [c for c in every if c.isspace()]
    assert re.findall(r"\s", every) == spaces
    # A UTF-8 sequence starts at a byte no other one holds inside it: matches in the joined text are whole characters.
    assert [m.decode() for m in re.findall(hexo._SPACE_UTF8, every.encode())] == spaces
    # Nothing outside ASCII folds to the letters of "more" in the str regex (re.I of a bytes regex is ASCII only).
    assert re.findall("(?i)[more]", every[0x80:]) == []


utf8_html = st.text(alphabet=st.sampled_from(list("<!-mor> \t\r\f\v\nMOa{}\x85\xa0\u1680\u2000\u2028\u202f\u205f"
                                                  "\u3000\x1c正\U0001f600")), max_size=40)


@given(utf8_html, st.sampled_from(["seed", "hexo"]))
def test_a_post_from_the_stored_utf8_equals_the_post_from_the_text(html, preset):
    tz = hexo.ZoneInfo("Asia/Shanghai")
    assert hexo.body_utf8(html.encode()) == body_html(_item(html), True).encode()
    from_text = hexo._post_bytes(_item(html), True, preset, tz)
    assert from_text == (render_seed(_item(html), True) if preset == "seed"
                         else hexo.render_hexo(_item(html), True, tz)).encode()
    as_bytes = _item(html)
    as_bytes.html = html.encode()
    assert hexo._post_bytes(as_bytes, True, preset, tz) == from_text


class _TextStore:
    """A store that reads the html as text whatever build_posts asks: the posts' reference path."""

    def __init__(self, store):
        self.store = store

    def __getattr__(self, name):
        return getattr(self.store, name)

    def iter_items(self, *args, html_utf8=False, **kw):
        return self.store.iter_items(*args, **kw)

    def load_bodies(self, item, *, html_utf8=False, **kw):
        return self.store.load_bodies(item, **kw)


@pytest.mark.parametrize("preset", ["seed", "hexo"])
@pytest.mark.parametrize("first", [True, False])  # bodies with the rows (a first build), or one item at a time
def test_posts_built_from_the_utf8_equal_posts_built_from_the_text(tmp_path, preset, first):
    body = "<p>正文 {k} {{x}}</p>\n \u3000\n<!-- More -->\n<p>二\u2028</p>\n\n"
    trees = []
    for n, wrap in enumerate([lambda s: s, _TextStore]):
        store = open_store(tmp_path / f"s{n}.db")
        store.sync_sources(SOURCES)
        store.upsert_entries(_rows([f"t{k % 5}" for k in range(30)], body), now=1e9)
        if not first:
            build_posts(wrap(store), tmp_path / f"blog{n}", preset=preset)
            store.upsert_entries(_rows([f"t{k % 5}" for k in range(32)], body + "<p>{k}</p>"), now=1e9 + 1)
        build_posts(wrap(store), tmp_path / f"blog{n}", preset=preset)
        trees.append(_tree(tmp_path / f"blog{n}"))
        store.close()
    assert trees[0] == trees[1] and len(trees[0]) >= 30

