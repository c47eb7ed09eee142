"""A big full build's workers read their own channels' items from the store (share.py): the site and its record
are those of a build that renders everything itself, on SQLite and on PostgreSQL; a rebuild over the record
finds every page unchanged; readers that cannot read the build's snapshot leave the pages to job-fed workers;
a failing reader fails the build with its traceback and no orphan."""
from __future__ import annotations

import multiprocessing
from datetime import timedelta
from pathlib import Path

import pytest
from site_helpers import config, make_store

from tidings.publish.site import build_site, pages, samples, share
from tidings.publish.site.manifest import TOKEN
from tidings.store import IngestRow


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != TOKEN}


def manifest(store, out: Path) -> dict:
    return {p: v[0] for p, v in store.site_files(str(out.resolve())).items()}


@pytest.fixture
def readers(monkeypatch):
    """Readers from the first item, with flow control tight enough that every wait happens; the reasons
    Workers.begin gave ("" when they read)."""
    monkeypatch.setattr(share, "READ_AT", 1)
    monkeypatch.setattr(share, "SLACK", 2)
    monkeypatch.setattr(share, "REPORT", 3)
    monkeypatch.setattr(share, "LAG", 5)
    monkeypatch.setenv("TIDINGS_SITE_WORKERS", "2")
    began: list[str] = []
    begin = pages.Workers.begin
    monkeypatch.setattr(pages.Workers, "begin", lambda self: (lambda why: (began.append(why), why)[1])(begin(self)))
    return began


@pytest.fixture(scope="module")
def serial(tmp_path_factory, module_store_at):
    """The site rendered without workers."""
    tmp = tmp_path_factory.mktemp("serial")
    store = make_store(module_store_at)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIDINGS_SITE_WORKERS", "0")
        build_site(store, config(), tmp / "out")
    try:
        return files(tmp / "out"), manifest(store, tmp / "out")
    finally:
        store.close()


def _add(store, n: int) -> None:
    newest = next(iter(store.iter_items()))
    src = next(s for s in samples.make_sources() if s.key == newest.source_key)
    import random

    store.upsert_entries(IngestRow(*samples.entry(src, 80_000 + k, newest.published + timedelta(minutes=5 + k),
                                                  random.Random(k))) for k in range(n))


def test_readers_write_the_same_site(serial, readers, tmp_path, sibling_store_at):
    store = make_store(sibling_store_at)
    out = tmp_path / "out"
    report = build_site(store, config(), out)
    assert readers == [""] and not multiprocessing.active_children()
    assert (files(out), manifest(store, out)) == serial
    assert report.written == len(serial[0])
    # A full build over the last one's record (the directory lost its token): readers look the records up,
    # and find every page as it was.
    (out / TOKEN).unlink()
    again = build_site(store, config(), out)
    assert readers == ["", ""] and again.written == 0 and again.unchanged == len(serial[0])
    assert (files(out), manifest(store, out)) == serial
    # And the incremental builds after it make what a full build of the new store makes.
    _add(store, 3)
    build_site(store, config(), out)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIDINGS_SITE_WORKERS", "0")
        build_site(store, config(), tmp_path / "full")
    assert files(out) == files(tmp_path / "full")
    store.close()


def test_readers_that_cannot_share_the_snapshot_leave_the_pages_to_workers(serial, readers, tmp_path, monkeypatch,
                                                                         sibling_store_at):
    plan = share.plan

    def elsewhere(*args, **kwargs):  # a snapshot no reader can read (SQLite: another journal position)
        shares, owners = plan(*args, **kwargs)
        return [s.__class__(**{**s.__dict__, "snapshot": "7777777"}) for s in shares], owners

    monkeypatch.setattr(share, "plan", elsewhere)
    store = make_store(sibling_store_at)
    out = tmp_path / "out"
    build_site(store, config(), out)
    assert len(readers) == 1 and readers[0] and not multiprocessing.active_children()
    assert (files(out), manifest(store, out)) == serial
    store.close()


def test_a_failing_reader_fails_the_build_and_keeps_what_was_written(readers, tmp_path, store_at):
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
    assert readers == [""] and not multiprocessing.active_children()
    written = manifest(store, out)
    on_disk = {p.relative_to(out).as_posix() for p in out.glob("a/*/*/*/*.html")}
    assert on_disk and on_disk <= set(written)  # every page a reader wrote is in the manifest
    # The next build (the theme fixed) completes the site.
    build_site(store, config(), out)
    assert len(list(out.glob("a/*/*/*/*.html"))) == len(list(store.iter_items()))
    store.close()
