"""Numbered listing pages filled into shells of list.html (SiteWriter.listing through shells.Shells) against
list.html's own render, byte for byte: with and without newer and older pages (the root's index among them: an
empty link), headings, titles, labels and crumbs that need escaping, are empty or hold the marks' own characters,
CJK paths, and several pages of one listing filled from the shells of its first."""
from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from site_helpers import config

from tidings.publish.site import render, shells, urls
from tidings.publish.site.context import BuildContext
from tidings.publish.site.writer import SiteWriter

# Characters escaping changes, the marks' (NUL, digits, '-'), %-formatting's own, CJK and spaces.
TEXT = st.text(st.sampled_from(list("ab<>&\"' \x00-0%中文›")), max_size=6)
NAME = st.one_of(st.just(""), TEXT)
BASES = ["", "c/x/", "c/中文/a b/", "t/<t>/", "archives/2024/06/"]


class Written:
    """What SiteWriter.listing writes, by path (the manifest's Output, without files)."""

    def __init__(self) -> None:
        self.dir = Path("/nonexistent")
        self.pages: dict[str, bytes] = {}

    def fresh(self, path: str, fp: str) -> bool:
        return False

    def write(self, path: str, data: bytes, fp: str = "") -> None:
        self.pages[path] = data


CTX = BuildContext.create(config())
OUT = Written()
# One writer for every example: shells made for one listing are reused by the next page of it. Its shells are
# not checked against the first page of each shape (as a build's are): every page here comes from a shell.
WRITER = SiteWriter(CTX, OUT, workers=False)  # type: ignore[arg-type]
WRITER.listing_shells = shells.Shells(WRITER._render_listing_shell, check=False)


def summary(k: int, title: str, cover: str) -> render.Summary:
    return render.Summary(f"a/2024/06/{k:02d}/%E4%B8%AD-{k}.html", title, cover, "2024-06-30 20:00",
                          "2024-06-30T20:00:00+08:00", "", "c/x/", f"key{k}", raw="<p>raw</p>")


@st.composite
def listings(draw: st.DrawFn) -> tuple[str, dict, list[tuple[str, dict]]]:
    """A listing's shell key, what list.html gets on all its numbered pages, and some of its pages (path, ctx)."""
    kind = draw(st.sampled_from(["node", "tag", "month"]))
    base = draw(st.sampled_from(BASES))
    extra = {"heading": draw(NAME), "crumbs": draw(st.lists(st.tuples(TEXT.filter(bool), st.sampled_from(BASES)),
                                                             max_size=3)),
             "feed_base": draw(st.sampled_from(["", base])), "description": draw(TEXT)}
    pages = []
    for number in draw(st.lists(st.integers(1, 12), min_size=1, max_size=4)):
        path = urls.page_path(base, number)
        newer = draw(st.one_of(st.none(), st.just(urls.href(base + "index.html")), st.just(urls.page_path(base, 3))))
        older = draw(st.one_of(st.none(), st.just(urls.href(urls.page_path(base, 1)))))
        pages.append((path, {"kind": kind, "first": False, "page_title": draw(NAME), "page_label": draw(NAME),
                             "newer": newer, "older": older, **extra}))
    return json.dumps([kind, extra], ensure_ascii=False, sort_keys=True), extra, pages


@settings(max_examples=300, deadline=None)
@given(listings(), st.lists(st.tuples(NAME, st.sampled_from(["", "https://img.example/c.jpg?a=1&b=<2>"])),
                            max_size=4))
def test_numbered_listing_pages_filled_into_shells_are_list_html_rendered(listing, cards):
    key, _, pages = listing
    for path, ctx in pages:
        items = [summary(k, title, cover) for k, (title, cover) in enumerate(cards)]
        root = urls.root_for(path)
        rendered = WRITER.pages.page("list.html", path, {**ctx, "cards": WRITER.cards(items, root)})
        WRITER.listing(path, "fp", items, key, **ctx)
        assert OUT.pages.pop(path) == rendered.encode("utf-8")
    assert WRITER.listing_shells is not None and all(WRITER.listing_shells._shells.values())


def test_a_listings_numbered_pages_share_its_shells():
    """Pages of one listing with the same neighbours' presence and empty values are filled from one shell."""
    ctx = {"kind": "node", "first": False, "description": "d", "heading": "金融", "crumbs": [("金融", "c/金融/")],
           "feed_base": "c/金融/"}
    writer = SiteWriter(CTX, Written(), workers=False)  # type: ignore[arg-type]
    for number in range(2, 9):
        writer.listing(urls.page_path("c/金融/", number), "fp", [summary(1, "t", "")], ("node", "c/金融/"), **ctx,
                       page_title=f"金融 · 第 {number} 页", page_label=f"第 {number} 页",
                       newer=urls.href(urls.page_path("c/金融/", number + 1)),
                       older=urls.href(urls.page_path("c/金融/", number - 1)))
    assert writer.listing_shells is not None and len(writer.listing_shells._shells) == 1
