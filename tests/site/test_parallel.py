"""Item pages rendered by worker processes (pages.py) give exactly the site a build that renders everything
itself gives, with the same manifest; interrupted and failing builds with workers leave no orphans; the
text helpers the fast paths rely on agree with their plain versions; search shards split big days. Every store
on SQLite and on PostgreSQL (module_store_at and sibling_store_at, store_at)."""
from __future__ import annotations

import html as htmllib
import json
import multiprocessing
import random
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from site_helpers import config, make_store

from tidings.publish.site import build_site, pages, render, samples, search
from tidings.publish.site.generators import Feeds
from tidings.publish.site.manifest import TOKEN
from tidings.store import IngestRow


def files(out: Path) -> dict[str, bytes]:
    """Every file but the site's token (each output directory has its own)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != TOKEN}


def manifest(store, out: Path) -> dict:
    """path -> sha256 of every file the store records for the site (fingerprints depend on the theme's path)."""
    return {p: v[0] for p, v in store.site_files(str(out.resolve())).items()}


@pytest.fixture
def workers(monkeypatch):
    """Workers from the 6th item page on, small chunks, and a count of the chunks they were sent."""
    monkeypatch.setattr(pages, "INLINE", 5)
    monkeypatch.setattr(pages, "CHUNK", 4)
    monkeypatch.setattr(pages, "AHEAD", 1)
    monkeypatch.setenv("TIDINGS_SITE_WORKERS", "2")
    sent = []
    submit = pages.Workers.submit
    monkeypatch.setattr(pages.Workers, "submit", lambda self, chunk: (sent.append(len(chunk)), submit(self, chunk))[1])
    return sent


@pytest.fixture(scope="module")
def serial(tmp_path_factory, module_store_at):
    """The site (and a themed rebuild of it) rendered without workers."""
    tmp = tmp_path_factory.mktemp("serial")
    store = make_store(module_store_at)
    mp = pytest.MonkeyPatch()
    mp.setenv("TIDINGS_SITE_WORKERS", "0")
    try:
        build_site(store, config(), tmp / "out")
        plain = files(tmp / "out"), manifest(store, tmp / "out")
        theme = themed(tmp)
        build_site(store, config(theme_dir=theme), tmp / "out")
        rebuilt = files(tmp / "out"), manifest(store, tmp / "out")
    finally:
        mp.undo()
        store.close()
    return plain, rebuilt


def themed(tmp: Path) -> Path:
    theme = tmp / "theme"
    theme.mkdir(exist_ok=True)
    src = (Path(pages.__file__).parent / "templates" / "item.html").read_text()
    (theme / "item.html").write_text(src.replace('<article class="post"', '<article class="post themed"')
                                     .replace("{{ item.title }}</h1>", "{{ item.title }}</h1><p>{{ older.excerpt if older }}</p>"))
    return theme


def test_workers_write_the_same_site(serial, workers, tmp_path, sibling_store_at):
    store = make_store(sibling_store_at)
    out = tmp_path / "out"
    report = build_site(store, config(), out)
    assert sum(workers) > 100  # most item pages (and listings) went to the workers
    assert not multiprocessing.active_children()
    assert (files(out), manifest(store, out)) == serial[0]
    assert report.written == len(serial[0][0])
    # A theme change re-renders everything, in workers too (neighbours' excerpts travel with the job).
    build_site(store, config(theme_dir=themed(tmp_path)), out)
    assert (files(out), manifest(store, out)) == serial[1]
    assert 'class="post themed"' in next(v for k, v in files(out).items() if k.startswith("a/")).decode()
    # Nothing new: nothing rendered, no worker started.
    workers.clear()
    again = build_site(store, config(theme_dir=themed(tmp_path)), out)
    assert again.written == 0 and not workers
    store.close()


def test_spawned_workers_write_the_same_site(serial, workers, tmp_path, monkeypatch, sibling_store_at):
    monkeypatch.setattr(pages, "_fork_ok", lambda: False)
    store = make_store(sibling_store_at)
    build_site(store, config(), tmp_path / "out")
    assert workers and (files(tmp_path / "out"), manifest(store, tmp_path / "out")) == serial[0]
    store.close()


def test_interrupted_build_with_workers_leaves_no_orphans(workers, tmp_path, monkeypatch, store_at):
    store = make_store(store_at)
    out = tmp_path / "out"
    items = list(store.iter_items())
    src = next(s for s in samples.make_sources() if s.key == items[0].source_key)
    entries = [samples.entry(src, 70_000 + k, items[0].published + timedelta(minutes=5 + k), random.Random(k))
               for k in range(20)]
    store.upsert_entries(IngestRow(e, html) for e, html in entries)
    monkeypatch.setattr(Feeds, "generate", lambda self: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        build_site(store, config(), out)
    monkeypatch.undo()
    assert workers and not multiprocessing.active_children()
    written = manifest(store, out)
    on_disk = {p.relative_to(out).as_posix() for p in out.glob("a/*/*/*/*.html")}
    # Every page the workers wrote is in the manifest (none can be left behind as an orphan), and the
    # manifest lists only what is there; most item pages were done before the failure.
    assert on_disk == {p for p in written if p.startswith("a/")}
    assert len(on_disk) > len(items) // 2
    for e, _ in entries:
        store.set_state(e.source_key, e.id, "deleted")
    build_site(store, config(), out)
    assert len(list(out.glob("a/*/*/*/*.html"))) == len(items)
    store.close()


def test_a_failing_worker_fails_the_build_and_keeps_what_was_written(workers, tmp_path, store_at):
    store = make_store(store_at)
    victim = list(store.iter_items())[40]
    theme = tmp_path / "theme"
    theme.mkdir()
    src = (Path(pages.__file__).parent / "templates" / "item.html").read_text()
    (theme / "item.html").write_text(src.replace(
        "{% block main %}",
        "{% block main %}{% if item.id == '" + victim.id + "' %}{{ item.no_such_thing() }}{% endif %}"))
    out = tmp_path / "out"
    with pytest.raises(pages.WorkerError, match="no_such_thing"):
        build_site(store, config(theme_dir=theme), out)
    assert not multiprocessing.active_children()
    written = manifest(store, out)
    assert written and all((out / p).is_file() for p in written)
    on_disk = {p.relative_to(out).as_posix() for p in out.glob("a/*/*/*/*.html")}
    assert on_disk <= set(written)  # every page a worker wrote is in the manifest
    store.close()


def test_big_messages_both_ways_do_not_deadlock(workers, tmp_path, monkeypatch, store_at):
    """Chunks bigger than a pipe going out while results bigger than a pipe come back."""
    import faulthandler

    monkeypatch.setattr(pages, "_grow", lambda conn: None)  # 64 KB pipes
    monkeypatch.setattr(pages, "CHUNK", 16)
    monkeypatch.setattr(pages, "AHEAD", 2)
    store = make_store(store_at, n=60)
    theme = tmp_path / "theme"
    theme.mkdir()
    card = (Path(pages.__file__).parent / "templates" / "_card.html").read_text()
    (theme / "_card.html").write_text(card.replace("</li>", "<!-- {{ 'x' * 20000 }} --></li>"))
    item = (Path(pages.__file__).parent / "templates" / "item.html").read_text()
    (theme / "item.html").write_text(item.replace("{{ body }}", "{{ body }}{{ older.excerpt if older }}"))
    faulthandler.dump_traceback_later(120, exit=True)  # a deadlock ends the test run, with tracebacks
    try:
        report = build_site(store, config(theme_dir=theme), tmp_path / "out")  # in this thread: forked workers
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert report.items == 61 and workers
    store.close()


# --- the text helpers behind the fast paths ----------------------------------------------------------


def _excerpt_plain(html: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]*>", " ", html))).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def test_excerpt_matches_the_plain_version():
    rng = random.Random(4)
    pieces = ["<p>", "</p>", "&amp;", "&amp", "&lt", "&#123;", "&#x4e2d;", " ", "\n", "中文", "word", "<img src=x>",
              "&", "<b", "a;b", "&nbsp;", ">", "<", ";", "&#", "\xa0", "\u3000", "\x1c", "\t\r\f", "\u2028"]
    for _ in range(20_000):
        html = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 120)))
        for limit in (3, 10, 40):
            assert render.excerpt(html, limit) == _excerpt_plain(html, limit), (html, limit)


def test_safe_body_matches_the_plain_substitution():
    plain = re.compile(r"<img\b(?![^>]*\breferrerpolicy\s*=)", re.I)
    rng = random.Random(5)
    pieces = ['<img src=x>', '<IMG src=y>', '<iMg alt="a">', '<img referrerpolicy="no-referrer" src=z>',
              '<img  referrerpolicy = "x">', 'text', '<p>', 'alt="<img x"', '<imgs>', '<img/>', '中文',
              '<img referrerpolicy="no-referrer">']
    for _ in range(20_000):
        html = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 8)))
        assert render.safe_body(html) == plain.sub('<img referrerpolicy="no-referrer"', html), html
    # mixed case gets the policy too (it once slipped through a case-sensitive pre-check)
    assert render.safe_body('<p><iMg src="a.jpg"></p>') == '<p><img referrerpolicy="no-referrer" src="a.jpg"></p>'


def test_safe_body_leaves_the_cleaners_images_alone():
    """What the store holds went through the cleaner, whose every <img> already has the policy."""
    from tidings.clean.sanitize import clean_html

    html = clean_html('<p>图</p><div class="x"><img src="https://a.example/1.jpg" alt="a"></div>'
                      '<IMG SRC="https://a.example/2.jpg">', "https://a.example/")
    assert html.count("<img") == 2 and html.count('referrerpolicy="no-referrer"') == 2
    assert render.safe_body(html) == html


def test_neighbour_text_travels_only_when_the_item_template_uses_excerpts(tmp_path):
    assert not render.mentions(render.environment(None), "item.html", "excerpt")  # bundled: titles only
    assert render.mentions(render.environment(themed(tmp_path)), "item.html", "excerpt")
    # through an include of the theme's base template, too
    (tmp_path / "t2").mkdir()
    (tmp_path / "t2" / "base.html").write_text("{% include '_extra.html' %}{% block main %}{% endblock %}")
    (tmp_path / "t2" / "_extra.html").write_text("{{ newer.excerpt }}")
    assert render.mentions(render.environment(tmp_path / "t2"), "item.html", "excerpt")
    (tmp_path / "t2" / "_extra.html").write_text("{{ newer.title }}")
    assert not render.mentions(render.environment(tmp_path / "t2"), "item.html", "excerpt")


def test_excerpt_source_of_utf8_bytes():
    for text in ("中文" * 2000, "a😀" * 900, "x" * 10, ""):
        assert render.excerpt_source_utf8(text.encode()) == render.excerpt_source(text)


def test_template_output_is_escaped_like_markupsafe():
    env = render.environment(None)
    tpl = env.from_string("{{ a }}|{{ b }}|{{ c }}|{{ d }}|{{ e }}")
    assert tpl.render(a="<&'\">", b=render.markupsafe.Markup("<b>"), c=5, d=None, e=[1, "<"]) == \
        "&lt;&amp;&#39;&#34;&gt;|<b>|5|None|[1, &#39;&lt;&#39;]"


# --- search shards ---------------------------------------------------------------------------------------


def test_big_days_are_split_into_parts_that_hold_every_page_once():
    rng = random.Random(5)
    days, heads, paths = Counter(), Counter(), []
    for k, n in enumerate((3, 40, 700, 1, 95)):
        d = date(2024, 6, 1) + timedelta(days=k)
        for _ in range(n):
            iid = f"{rng.getrandbits(64):016x}"
            days[d] += 1
            heads[(d, iid[0])] += 1
            paths.append(f"a/{d:%Y/%m/%d}/{iid}-abcdef.html")
    shards = search.plan(days, 100, heads)
    for p in paths:
        assert sum(s.holds(p) for s in shards) == 1, p
    assert max(s.pages for s in shards) <= 110
    assert sum(s.pages for s in shards) == len(paths)
    assert len({s.name for s in shards}) == len(shards)
    big = [s for s in shards if s.part]
    assert {s.days[0] for s in big} == {date(2024, 6, 3)} and len(big) >= 7
    assert all(re.fullmatch(r"a/2024/06/03/\[[0-9a-f]+\]\*\.html", s.glob) for s in big)


def test_split_shards_index_every_page(tmp_path, monkeypatch, store_at):
    monkeypatch.setattr(search, "SHARD_MAX", 3)  # ~5 items a day: days split in parts
    store = make_store(store_at)
    out = tmp_path / "out"
    report = build_site(store, config(search=True), out)
    bundles = sorted((out / "_pagefind").iterdir())
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\d-[0-9a-f]", b.name) for b in bundles)
    counted = 0
    for b in bundles:
        entry = json.loads((b / "pagefind-entry.json").read_text())
        counted += sum(lang["page_count"] for lang in entry["languages"].values())
    assert counted == report.items
    store.close()
