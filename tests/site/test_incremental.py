"""Incremental builds: nothing new rewrites nothing; one new item rewrites a small known set; a deleted
item's page goes away; templates and config invalidate what depends on them; search re-indexes only the
shards whose pages changed."""
from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from site_helpers import config, html_files, internal_targets, make_store

from tidings.publish.site import build_site, render, samples, search, urls
from tidings.publish.site.generators import Feeds
from tidings.publish.site.lists import Paginator
from tidings.store import IngestRow

TZ = ZoneInfo("Asia/Shanghai")


def mtimes(out: Path) -> dict[str, int]:
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def changed(before: dict, after: dict) -> set[str]:
    return {p for p in after if before.get(p) != after[p]} | {p for p in before if p not in after}


def item_rel(it) -> str:
    return urls.item_path(it.published.astimezone(TZ), urls.item_uid(it.source_key, it.id))


@pytest.fixture
def site(tmp_path, store_at):
    store = make_store(store_at)
    out = tmp_path / "out"
    first = build_site(store, config(), out)
    assert first.written > 100 and first.unchanged == 0
    yield store, out
    store.close()


def test_nothing_new_rewrites_nothing(site, monkeypatch):
    store, out = site
    before = mtimes(out)
    renders = []
    cls = type(render.environment(None).get_template("item.html"))  # the site's Template class
    orig = cls.render
    monkeypatch.setattr(cls, "render", lambda self, *a, **kw: (renders.append(self.name), orig(self, *a, **kw))[1])
    report = build_site(store, config(), out)
    assert report.written == 0 and report.deleted == 0
    assert report.unchanged == len(before) - 1  # every file but the site's token
    assert mtimes(out) == before
    # the journal said nothing changed: nothing was rendered, not even the pages made from counts
    assert renders == []


def test_one_new_item_rewrites_a_small_known_set(site):
    store, out = site
    items = list(store.iter_items())
    newest = items[0]
    src = next(s for s in samples.make_sources() if s.key == newest.source_key)
    before = mtimes(out)
    e, html = samples.entry(src, 99_999, newest.published + timedelta(hours=1), random.Random(3))
    store.upsert_entries([IngestRow(e, html)])
    report = build_site(store, config(), out)
    after = mtimes(out)
    got = changed(before, after)
    assert got == set(report.written_files)
    new = next(it for it in store.iter_items() if it.id == e.id)
    chan = [it for it in items if it.categories == new.categories]
    names = tuple(new.categories)
    segs = urls.node_segments([names])
    local = new.published.astimezone(TZ)
    lists = {"": len(items)} | {segs[names[:i]]: sum(1 for it in items if it.categories[:i] == list(names[:i]))
                                for i in range(1, len(names) + 1)}
    lists[f"archives/{local:%Y/%m}/"] = sum(1 for it in items if it.published.astimezone(TZ).month == local.month)
    must = {item_rel(new), item_rel(chan[0]), f"sitemaps/{local:%Y-%m-%d}.xml", "categories/index.html",
            "archives/index.html", f"archives/{local:%Y}/index.html"}
    must |= {base + "index.html" for base in lists}
    must |= {base + f for base in list(lists)[:-1] for f in ("rss.xml", "atom.xml", "feed.json")}
    may = {"sitemap.xml"}  # the index of sitemaps changes only with a new day
    for base, n in lists.items():  # every per_page items a new numbered page appears
        old, now = Paginator(base, n, 10), Paginator(base, n + 1, 10)
        if now.numbered != old.numbered:
            may |= {now.page(now.numbered).path, now.page(old.numbered).path if old.numbered else ""}
    assert must <= got, must - got
    assert got <= must | may, got - must - may
    assert len(got) < 30
    # old item pages that are not next to the new one were not touched
    for it in items[1:]:
        if it is not chan[0]:
            assert before[item_rel(it)] == after[item_rel(it)]
    for page in [out / p for p in got if p.endswith(".html")]:
        for link, target in internal_targets(out, page):
            assert target.is_file(), (page, link)


def test_deleted_item_disappears(site):
    store, out = site
    items = list(store.iter_items())
    chan = [it for it in items if it.categories == items[5].categories]
    victim = chan[1]
    path = out / item_rel(victim)
    assert path.is_file()
    store.set_state(victim.source_key, victim.id, "deleted")
    report = build_site(store, config(), out)
    assert not path.exists()
    assert item_rel(victim) in report.deleted_files and report.deleted >= 1
    assert report.items == len(items) - 1
    # its neighbours now link to each other
    newer = (out / item_rel(chan[0])).read_text("utf-8")
    assert chan[2].title in newer and victim.title not in newer
    for page in html_files(out):
        assert victim.title not in page.read_text("utf-8") or page == path
        for link, target in internal_targets(out, page):
            assert target.is_file(), (page, link)


def test_template_and_config_changes_rebuild_what_depends_on_them(site, tmp_path):
    store, out = site
    theme = tmp_path / "theme"
    theme.mkdir()
    src = (Path(samples.__file__).parent / "templates" / "item.html").read_text()
    (theme / "item.html").write_text(src.replace('<article class="post"', '<article class="post themed"'))
    before = mtimes(out)
    report = build_site(store, config(theme_dir=theme), out)
    items = list(store.iter_items())
    assert all(item_rel(it) in report.written_files for it in items)
    assert 'class="post themed"' in (out / item_rel(items[0])).read_text()
    again = build_site(store, config(theme_dir=theme), out)
    assert again.written == 0
    report = build_site(store, config(theme_dir=theme, title="Another title"), out)
    assert "index.html" in report.written_files and item_rel(items[-1]) in report.written_files
    assert "Another title" in (out / "index.html").read_text()
    assert set(before) <= set(mtimes(out))


def test_removed_files_come_back(site):
    store, out = site
    victim = next(out.glob("a/*/*/*/*.html"))
    victim.unlink()
    (out / "rss.xml").unlink()
    # an incremental build trusts the directory: it looks at what changed in the store, not at every file
    assert build_site(store, config(), out).written == 0 and not victim.exists()
    report = build_site(store, config(), out, full=True)
    assert victim.is_file() and (out / "rss.xml").is_file()
    assert set(report.written_files) == {victim.relative_to(out).as_posix(), "rss.xml"}


def test_search_shards_reindex_only_what_changed(tmp_path, store_at, monkeypatch):
    monkeypatch.setattr(search, "SHARD_MAX", 40)
    store = make_store(store_at)
    out = tmp_path / "out"
    first = build_site(store, config(search=True), out)
    assert first.search_shards >= 4 and first.search_indexed == first.search_shards
    bundles = sorted(p.name for p in (out / "_pagefind").iterdir())
    assert len(bundles) == first.search_shards
    for b in bundles:
        assert (out / "_pagefind" / b / "pagefind-entry.json").is_file()
        assert (out / "_pagefind" / b / "pagefind.js").is_file()
        assert not (out / "_pagefind" / b / "pagefind-ui.js").exists()
    page = (out / "search" / "index.html").read_text()
    assert all(f"_pagefind/{b}/" in page for b in bundles)
    # nothing new: nothing re-indexed
    again = build_site(store, config(search=True), out)
    assert again.search_indexed == 0 and again.written == 0
    # one new item: only the newest shard (two when its day's shards are split anew: search.plan)
    items = list(store.iter_items())
    src = next(s for s in samples.make_sources() if s.key == items[0].source_key)
    e, html = samples.entry(src, 88_888, items[0].published + timedelta(minutes=5), random.Random(5))
    store.upsert_entries([IngestRow(e, html)])
    third = build_site(store, config(search=True), out)
    assert 1 <= third.search_indexed <= 2 < third.search_shards
    # search off: no index, no search page, no search UI
    off = build_site(store, config(search=False), out)
    assert off.search_shards == 0
    assert not (out / "_pagefind").exists() and not (out / "search").exists()
    assert 'role="search"' not in (out / "index.html").read_text()
    store.close()


def test_a_stylesheet_change_reindexes_nothing(tmp_path, store_at, monkeypatch):
    """Shards are fingerprinted by what Pagefind reads of their pages (the body), not by the pages' bytes:
    a new stylesheet rewrites every page (its version is in the head) and re-indexes no shard."""
    monkeypatch.setattr(search, "SHARD_MAX", 60)
    store = make_store(store_at)
    out = tmp_path / "out"
    theme = tmp_path / "theme"
    (theme / "static").mkdir(parents=True)
    css = Path(render.__file__).parent / "static" / "style.css"
    (theme / "static" / "style.css").write_text(css.read_text())
    first = build_site(store, config(search=True, theme_dir=theme), out)
    assert first.search_shards >= 2 and first.search_indexed == first.search_shards
    (theme / "static" / "style.css").write_text(css.read_text() + "\nbody { color: #111; }\n")
    again = build_site(store, config(search=True, theme_dir=theme), out)
    items = list(store.iter_items())
    assert all(item_rel(it) in again.written_files for it in items)  # every page's head changed ...
    assert again.search_indexed == 0 and again.search_shards == first.search_shards  # ... and no shard
    store.close()


def test_interrupted_build_leaves_no_orphans(site, monkeypatch):
    store, out = site
    items = list(store.iter_items())
    src = next(s for s in samples.make_sources() if s.key == items[0].source_key)
    e, html = samples.entry(src, 77_777, items[0].published + timedelta(minutes=5), random.Random(9))
    store.upsert_entries([IngestRow(e, html)])
    monkeypatch.setattr(Feeds, "generate", lambda self: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        build_site(store, config(), out)
    monkeypatch.undo()
    new = next(it for it in store.iter_items() if it.id == e.id)
    assert (out / item_rel(new)).is_file()
    store.set_state(new.source_key, new.id, "deleted")
    build_site(store, config(), out)
    assert not (out / item_rel(new)).exists()


def test_a_no_change_build_imports_no_renderer(site):
    """Nothing changed: the build stops after reading the journal, before importing Jinja2 or Pagefind."""
    import subprocess
    import sys

    store, out = site
    where = str(getattr(store, "path", None) or store.url)  # the SQLite file or the PostgreSQL URL
    code = (
        "import sys; from pathlib import Path; from site_helpers import config\n"
        "from tidings.publish.site import build_site; from tidings.store import open_store\n"
        f"r = build_site(open_store({where!r}), config(), Path({str(out)!r}))\n"
        "print(r.written, sorted(m for m in ('jinja2', 'pagefind', 'markupsafe') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[0] == "0 []", proc.stdout
