"""An item page's job as it travels to a worker with the bundled templates (pages.pack without whole_item: the
item as a PageItem) renders the page, excerpt and card the whole StoredItem renders, byte for byte: bodies in
UTF-8 bytes and as text, ones safe_body changes, covers in the body or not, empty authors, links and channels."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from site_helpers import config

from tidings.publish.site import pages, render
from tidings.publish.site.context import BuildContext
from tidings.store import StoredItem

TEXT = st.text(st.sampled_from(list("ab<>&\"' \x00-0%中文›")), max_size=6)
NAME = st.one_of(st.just(""), TEXT)
COVER = "https://img.example/c.jpg"
BODIES = ["<p>body &amp; text</p>", f'<p>x</p><img src="{COVER}" alt="">', "<p>中文正文</p><script>x()</script>",
          '<p onclick="x()">a</p>', ""]



@pytest.fixture(scope="module")
def item_pages(tmp_path_factory) -> pages.ItemPages:
    ctx = BuildContext.create(config())
    return pages.ItemPages(ctx.env, ctx.site, ctx.t, ctx.static_v, ctx.base_url, str(tmp_path_factory.mktemp("out")))


@st.composite
def jobs(draw: st.DrawFn) -> pages.Job:
    source = draw(NAME)
    html = draw(st.sampled_from(BODIES))
    when = datetime(2024, 6, 30, 12, tzinfo=UTC)
    item = StoredItem("src", "id1", "guid", draw(st.sampled_from(["", "https://x.example/a?b=1&c=<2>", "data:x"])),
                      draw(NAME), draw(st.one_of(NAME, st.just(source))), when, draw(st.sampled_from([None, when])),
                      when, "", draw(st.sampled_from([html, html.encode("utf-8")])),
                      draw(st.sampled_from(["", COVER])), ["t"], "hash", draw(NAME), source, draw(NAME), "story",
                      ["k"], 2)
    s = render.Summary("a/2024/06/30/id1.html", item.title, item.cover, "2024-06-30 20:00",
                       "2024-06-30T20:00:00+08:00", "label", "c/x/", "key")
    return pages.Job(s.href, "fp", None, item, s, None, None, [("x", "c/x/")], None, ())


@settings(max_examples=200, deadline=None)
@given(jobs())
def test_a_page_item_renders_what_the_whole_item_renders(item_pages, job):
    assert item_pages.bundled
    slim = pages.unpack(pages.pack(job, pages.NEIGHBOUR_LINKS, whole_item=False))
    assert isinstance(slim.item, pages.PageItem) and slim.item.categories == job.item.categories
    whole = pages.unpack(pages.pack(job, pages.NEIGHBOUR_LINKS))
    assert isinstance(whole.item, StoredItem)
    assert item_pages.render(slim) == item_pages.render(whole) == item_pages.render(job)
