"""What a worker sends back (its Results as plain tuples, made Results again by Workers.collect) equals what the
same jobs give when rendered in the build's process, field by field and type by type."""
from __future__ import annotations

from datetime import UTC, datetime

from site_helpers import config

from tidings.publish.site import pages, render
from tidings.publish.site.context import BuildContext
from tidings.store import StoredItem


def _job(k: int) -> pages.Job:
    when = datetime(2024, 6, 30, 12, tzinfo=UTC)
    item = StoredItem("src", f"id{k}", "g", "https://x.example/a", f"标题 {k}", "作者" if k % 2 else "", when, None,
                      when, "", f"<p>正文 {k} &amp; more</p>".encode(), "", [], "h", "新闻", "例子", "", "", [], 0)
    s = render.Summary(f"a/2024/06/30/id{k}.html", item.title, "", "2024-06-30 20:00", "2024-06-30T20:00:00+08:00",
                       "例子", "c/x/", f"key{k}")
    return pages.Job(s.href, f"fp{k}", "0" * 64 if k % 3 == 0 else None, item, s, None, None, [("新闻", "c/x/")])


def test_worker_results_are_the_inline_results(tmp_path):
    ctx = BuildContext.create(config())
    inline = pages.ItemPages(ctx.env, ctx.site, ctx.t, ctx.static_v, ctx.base_url, str(tmp_path / "inline"))
    expected = [inline.render(_job(k)) for k in range(40)]
    theirs = pages.ItemPages(ctx.env, ctx.site, ctx.t, ctx.static_v, ctx.base_url, str(tmp_path / "workers"))
    workers = pages.Workers(2, theirs, (ctx.theme, ctx.site, ctx.t, ctx.static_v, ctx.base_url,
                                        str(tmp_path / "workers")))
    try:
        got = workers.submit([_job(k) for k in range(20)])
        got += workers.submit([_job(k) for k in range(20, 40)])
        more, error = workers.drain()
        got += more
    finally:
        workers.close()
    assert error is None
    assert sorted(got) == sorted(expected)
    assert all(type(r) is pages.Result for r in got) and all(r.excerpt and r.card for r in got)
