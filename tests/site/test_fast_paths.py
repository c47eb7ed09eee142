"""The byte-for-byte shortcuts of a full build (docs/site.md, "Benchmarks"): each against what it replaces."""
from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from site_helpers import config, make_store

from tidings.publish.site import build_site, feeds, lists, pages, render
from tidings.publish.site.context import fingerprint
from tidings.publish.site.manifest import TOKEN
from tidings.publish.site.writer import SiteWriter


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != TOKEN}


def test_pages_spliced_as_bytes_are_the_rendered_ones(tmp_path, store_at, monkeypatch):
    monkeypatch.setenv("TIDINGS_SITE_WORKERS", "0")
    store = make_store(store_at, n=40)
    build_site(store, config(), tmp_path / "spliced")
    monkeypatch.setattr(render, "bundled", lambda env: False)
    build_site(store, config(), tmp_path / "rendered")
    assert files(tmp_path / "spliced") == files(tmp_path / "rendered")


def test_a_theme_that_uses_body_or_cards_otherwise_gets_no_splice(tmp_path, store_at, monkeypatch):
    monkeypatch.setenv("TIDINGS_SITE_WORKERS", "0")
    theme = tmp_path / "theme"
    theme.mkdir()
    base = (Path(pages.__file__).parent / "templates" / "base.html").read_text()
    (theme / "base.html").write_text(base.replace("</body>", "<!--{{ (body or cards)|length }}--></body>"))
    assert not render.bundled(render.environment(theme)) and render.bundled(render.environment(None))
    (tmp_path / "static-only" / "static").mkdir(parents=True)
    assert render.bundled(render.environment(tmp_path / "static-only"))
    out = tmp_path / "out"
    build_site(make_store(store_at, n=40), config(theme_dir=theme), out)
    for page in (out / "index.html", next((out / "a").rglob("*.html"))):
        html = page.read_text("utf-8")
        assert "<!--" in html and "\x00" not in html  # (no mark of a splice or a shell)
        assert f"<!--{len(render.CARDS_MARK)}-->" not in html


def test_numbered_listing_pages_filled_into_shells_are_the_rendered_ones(tmp_path, store_at, monkeypatch):
    """SiteWriter.listing's shells of list.html (rendered once per listing and shape, each numbered page's values
    and cards filled in) against the page-by-page render they replace; a theme's own list.html is still rendered
    page by page."""
    monkeypatch.setenv("TIDINGS_SITE_WORKERS", "0")
    store = make_store(store_at, n=60)
    writers: list[SiteWriter] = []
    init = SiteWriter.__init__

    def kept(self, *args, **kw):
        init(self, *args, **kw)
        writers.append(self)

    def without_listing_shells(self, *args, **kw):
        init(self, *args, **kw)
        self.listing_shells = None

    theme = tmp_path / "theme"
    theme.mkdir()
    listing = (Path(pages.__file__).parent / "templates" / "list.html").read_text()
    (theme / "list.html").write_text(listing.replace(
        '<ol class="cards">', '<p>{{ pager.number }} {{ path }} {{ page_label|length }} {{ newer or "-" }}</p>\n<ol class="cards">'))
    with monkeypatch.context() as m:
        m.setattr(SiteWriter, "__init__", kept)
        build_site(store, config(per_page=3), tmp_path / "shell")
        build_site(store, config(per_page=3, theme_dir=theme), tmp_path / "theme-shell")
    made = writers[0].listing_shells._shells  # type: ignore[union-attr]
    assert writers[1].listing_shells is None and made and all(made.values())
    with monkeypatch.context() as m:
        m.setattr(SiteWriter, "__init__", without_listing_shells)
        build_site(store, config(per_page=3), tmp_path / "spliced")
        build_site(store, config(per_page=3, theme_dir=theme), tmp_path / "theme-spliced")
    with monkeypatch.context() as m:
        m.setattr(render, "bundled", lambda env: False)
        build_site(store, config(per_page=3), tmp_path / "rendered")
    shelled = files(tmp_path / "shell")
    assert shelled == files(tmp_path / "spliced") == files(tmp_path / "rendered")
    assert sum(p.startswith("page/") for p in shelled) > 10
    assert sum("page/" in p for p in shelled) > 2 * len(made)  # (pages of a listing share its shells)
    themed = files(tmp_path / "theme-shell")
    assert themed == files(tmp_path / "theme-spliced")
    page = themed["page/4/index.html"].decode("utf-8")
    assert "<p>4 page/4/index.html 5 page/5/</p>" in page and "\x00" not in page


def test_a_listing_pages_as_page_of_does_item_by_item():
    """lists.Listing.add asks page_of only where a page may end: the pages are those of asking it every item."""
    def reference(n: int, per: int, extra: int) -> list[tuple[str, list[int]]]:
        pager, out, buf, current = lists.Paginator("b/", n, per), [], [], 0
        for rank in range(n + extra):
            number = pager.page_of(rank)
            if number != current and buf:
                out.append((pager.page(current).path, buf))
                buf = []
            current = number
            buf.append(rank)
        if buf or not n + extra:
            out.append((pager.page(current).path, buf))
        return out

    for n in range(0, 70):
        for per in (1, 2, 3, 10, 30):
            for extra in (0, 1, 7):  # (more items than counted: page 1 takes them)
                got: list[tuple[str, list[int]]] = []
                listing = lists.Listing("b/", n, per, lambda page, items, out=got: out.append((page.path, list(items))))
                for rank in range(n + extra):
                    listing.add(rank)  # type: ignore[arg-type]  # any object will do for a summary
                listing.close()
                assert got == reference(n, per, extra), (n, per, extra)


def test_json_indent1_is_json_dumps():
    rng = random.Random(3)
    alphabet = ["a", "Z", " ", '"', "\\", "\n", "\t", "\x00", "\x1f", "中", "\u2028", "\ud800", "😀", "/", "<", "é"]

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 10)))

    def value(depth: int = 0) -> object:
        r = rng.random()
        if depth > 3 or r < 0.4:
            return text()
        if r < 0.5:
            return rng.choice([None, True, False, 0, -3, 10**20, 1.5, -0.0, 1e300])
        if r < 0.75:
            return [value(depth + 1) for _ in range(rng.randrange(0, 4))]
        return {text(): value(depth + 1) for _ in range(rng.randrange(0, 4))}

    for _ in range(5_000):
        v = value()
        assert feeds.json_indent1(v) == json.dumps(v, ensure_ascii=False, indent=1), v
    for v in ({1: "a"}, {True: 1, None: 2}, {"a": {}}, {"a": []}, [[]], [{}], (1, "x")):
        assert feeds.json_indent1(v) == json.dumps(v, ensure_ascii=False, indent=1), v


def test_xml_escape_of_utf8_is_that_of_the_text():
    rng = random.Random(5)
    alphabet = [chr(c) for c in range(0x30)] + ["中", "\ufffe", "\uffff", "\ufffd", "\uefbf", "ÿ", "¿", "&", "<", ">",
                                                "😀", "a", ";"]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))
        assert feeds._xml_utf8(text.encode()) == feeds.xml_escape(text).encode(), repr(text)


def test_excerpt_of_utf8_is_that_of_the_text():
    rng = random.Random(6)
    pieces = ["<p>", "</p>", "&amp;", "&lt", "&#x4e2d;", " ", "\n", "中文", "word", "<img src=x>", "&", "<b", ">",
              ";", "😀", "\u3000", "é"]
    for _ in range(5_000):
        data = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 400))).encode()
        assert render.excerpt_utf8(data) == render.excerpt(render.excerpt_source_utf8(data)), data


def test_fingerprint_is_the_sha256_of_each_part_then_a_nul():
    for parts in [(), ("",), ("a", "b"), ("\ud800", "\udc00"), ("中文", "x\0y", "")]:
        h = hashlib.sha256()
        for p in parts:
            h.update(p.encode("utf-8", "surrogatepass") + b"\0")
        assert fingerprint(*parts) == h.hexdigest()


def test_feed_bytes_drop_the_characters_text_escaping_drops():
    """feeds._xml_utf8 works on bytes with its own table of the characters XML 1.0 forbids; it must name
    the same ones as the text escaping of every other feed field (every one-byte character, U+FFFE/U+FFFF)."""
    from tidings.publish.site import feeds

    for c in [*map(chr, range(0x80)), "\ufffe", "\uffff", "é", "中"]:
        assert feeds._xml_utf8(c.encode()) == feeds.xml_escape(c).encode(), repr(c)
