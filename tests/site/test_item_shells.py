"""Item pages and cards filled into shells (shells.py) against the template render they replace, byte for byte:
with and without cover (shown, or already in the body), author (the source's name or another), original link,
tags (with and without a page), story links (the lead's page lists the others, the others link to the lead),
neighbours, and titles, sources and names that need escaping or hold the marks' own characters."""
from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup
from site_helpers import config, make_store

from tidings.publish.site import build_site, pages, render, shells
from tidings.publish.site.context import BuildContext
from tidings.publish.site.stories import NO_LINKS, Related, StoryLinks
from tidings.store import StoredItem

# Characters escaping changes, the marks' (NUL, digits, '-'), %-formatting's own, CJK and spaces.
TEXT = st.text(st.sampled_from(list("ab<>&\"' \x00-0%中文›")), max_size=6)
NAME = st.one_of(st.just(""), TEXT)
URL = st.one_of(st.just(""), st.sampled_from(["https://x.example/a?b=1&c=<2>", "javascript:alert(1)",
                                              "http://y.example/%E4%B8%AD"]))
BODY = '<p>body &amp; <img src="https://img.example/c.jpg" alt="" referrerpolicy="no-referrer"></p>'

CTX = BuildContext.create(config())
# One instance for every example: shells made for one page's shape are reused by the next. Its shells are not
# checked against the first page of each shape (as a build's are): every page here comes from a shell.
ITEM_PAGES = pages.ItemPages(CTX.env, CTX.site, CTX.t, CTX.static_v, CTX.base_url, "/nonexistent")
ITEM_PAGES.item_shells = shells.Shells(ITEM_PAGES._render_item_shell, check=False)
ITEM_PAGES.card_shells = shells.Shells(ITEM_PAGES._render_card_shell, check=False)


def summary(href: str, title: str, cover: str = "", label: str = "", excerpt: str | None = None) -> render.Summary:
    s = render.Summary(href, title, cover, "2024-06-30 20:00", "2024-06-30T20:00:00+08:00", label,
                       "c/x/", "key", raw="<p>raw &lt;text&gt;</p>")
    s._excerpt = excerpt
    return s


def related(draw: st.DrawFn) -> Related:
    return Related(draw(st.sampled_from(["a/2024/06/01/r-1.html", "a/2024/06/02/%E4%B8%AD.html"])), draw(NAME),
                   draw(NAME), draw(URL))


@st.composite
def jobs(draw: st.DrawFn) -> pages.Job:
    source = draw(NAME)
    author = draw(st.one_of(NAME, st.just(source)))
    cover = draw(st.sampled_from(["", "https://img.example/c.jpg", "https://img.example/other.jpg?a=1&b=<2>"]))
    categories = draw(st.lists(NAME.filter(bool), min_size=1, max_size=3))
    item = StoredItem("src", "id1", "guid", draw(URL), draw(NAME), author, datetime(2024, 6, 30, 12, tzinfo=UTC),
                      None, datetime(2024, 6, 30, 12, tzinfo=UTC), "", BODY, cover, [], "hash", categories[0],
                      source, categories[1] if len(categories) > 1 else "")
    s = summary("a/2024/06/30/id1-abcdef.html", item.title, cover, excerpt=draw(st.one_of(st.none(), NAME)))
    crumbs = [(name, f"c/{k}/") for k, name in enumerate(categories)]
    tags = tuple(draw(st.lists(st.tuples(TEXT.filter(bool), st.sampled_from(["", "t/x/", "t/%E4%B8%AD/"])),
                               max_size=3)))
    story = draw(st.sampled_from(["none", "lead", "also"]))
    links = NO_LINKS if story == "none" else StoryLinks(related(draw), ()) if story == "lead" else \
        StoryLinks(None, tuple(related(draw) for _ in range(draw(st.integers(1, 3)))))
    newer, older = (summary(f"a/2024/06/{d}/n.html", draw(NAME)) if draw(st.booleans()) else None
                    for d in ("29", "28"))
    return pages.Job(s.href + "", "fp", None, item, s, newer, older, crumbs, links, tags)


@settings(max_examples=400, deadline=None)
@given(jobs())
def test_an_item_page_filled_into_its_shell_is_the_rendered_one(job):
    body = render.safe_body(job.item.html)
    rendered = ITEM_PAGES._item_html(job, body, Markup(body)).encode("utf-8")
    assert ITEM_PAGES.item_shells is not None
    assert ITEM_PAGES._item_filled(job, body, body.encode("utf-8"), ITEM_PAGES.item_shells) == rendered


@settings(max_examples=200, deadline=None)
@given(NAME, URL, NAME, NAME, st.one_of(st.none(), NAME))
def test_a_card_filled_into_its_shell_is_the_rendered_one_split_at_the_root(title, cover, label, node, excerpt):
    s = summary("a/2024/06/30/%E4%B8%AD-1.html", title, cover, label, excerpt)
    s.node_href = node
    rendered = ITEM_PAGES.card_tpl.render(s=s, t=ITEM_PAGES.t, site=ITEM_PAGES.site, root=Markup(render.ROOT_MARK))
    assert ITEM_PAGES.card(s) == tuple(part.encode("utf-8") for part in rendered.split(render.ROOT_MARK))


def test_a_build_fills_its_item_pages_and_cards_into_shells(tmp_path, store_at, monkeypatch):
    """The whole site with shells, and with every page and card rendered by its template."""
    monkeypatch.setenv("TIDINGS_SITE_WORKERS", "0")
    store = make_store(store_at, n=60)
    used: list[shells.Shells] = []
    fill = shells.Shells.fill

    def counted(self, *args):
        used.append(self)
        return fill(self, *args)

    with monkeypatch.context() as m:
        m.setattr(shells.Shells, "fill", counted)
        build_site(store, config(per_page=5), tmp_path / "shells")
    items = {kind for kind in used if kind._render.__name__ in ("_render_item_shell", "_render_card_shell")}
    made = [shell for kind in items for shell in kind._shells.values()]
    assert len(items) == 2 and all(made) and len(made) < 30  # one per shape of page, not one per page
    assert sum(kind in items for kind in used) == 2 * 61  # (every item page and card)
    with monkeypatch.context() as m:
        m.setattr(shells.Shells, "fill", lambda self, shape, values, reference, body=None: reference())
        build_site(store, config(per_page=5), tmp_path / "rendered")
    out = {p.relative_to(tmp_path / "shells").as_posix(): p.read_bytes() for p in (tmp_path / "shells").rglob("*")
           if p.is_file() and p.name != ".tidings-site"}
    ref = {p.relative_to(tmp_path / "rendered").as_posix(): p.read_bytes() for p in (tmp_path / "rendered").rglob("*")
           if p.is_file() and p.name != ".tidings-site"}
    assert out == ref and sum(p.startswith("a/") for p in out) == 61


def test_a_shell_that_does_not_give_the_page_it_is_made_for_is_not_used():
    """A template that transforms a value (here: cuts it) breaks its mark; the check against the first page of
    the shape finds it, and every page of that shape is then rendered."""
    rendered: list[str] = []

    def reference(value: str) -> bytes:
        rendered.append(value)
        return f"<b>{value[:5]}</b>".encode()

    broken = shells.Shells(lambda mark, shape: f"<b>{mark(0)[:5]}</b>{mark(shells.BODY)}")
    assert broken.fill((), ["title"], lambda: reference("title"), b"") == b"<b>title</b>"
    assert broken.fill((), ["other"], lambda: reference("other"), b"") == b"<b>other</b>"
    assert rendered == ["title", "other"]
    unchecked = shells.Shells(lambda mark, shape: f"<b>{mark(0)[:5]}</b>{mark(shells.BODY)}", check=False)
    assert unchecked.fill((), ["title"], lambda: reference("title"), b"") != b"<b>title</b>"  # (what it checks)
    kept = shells.Shells(lambda mark, shape: f"<b>{mark(0)}</b>%{mark(1)}{mark(shells.BODY)}")
    assert kept.fill((), ["a<b", ""], lambda: b"<b>a&lt;b</b>%<p>", b"<p>") == b"<b>a&lt;b</b>%<p>"
    assert kept.fill((), ["x&", ""], lambda: b"", b"") == b"<b>x&amp;</b>%"  # (from the shell)
    assert kept.fill((), ["x", "x"], lambda: b"<b>x</b>%x", b"") == b"<b>x</b>%x"  # (a shell of its own)
