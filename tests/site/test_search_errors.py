"""A Pagefind that is missing or will not run stops the build with one clear line and exit 2 (SPEC §3: the
environment is set up wrong), not with "a bug" and a traceback (exit 1). `tidings run` is checked on SQLite and
PostgreSQL (store_at)."""
from __future__ import annotations

import pytest
from feedserver import rss
from util import cli, write_config


@pytest.fixture
def cfg(tmp_path, store_at, server):
    url = server.add("/feed", rss([{"title": f"标题 {i}", "link": f"http://news.example.com/{i}", "guid": f"id-{i}",
                                    "pubDate": f"Mon, 14 Mar 2022 {i:02d}:00:00 GMT", "description": f"<p>正文 {i}</p>"}
                                   for i in range(3)]))
    return write_config(tmp_path, [{"category": "新闻", "source": "Example", "url": url}], site_dir="public",
                        store=store_at)


def _no_binary(monkeypatch, tmp_path):
    import pagefind.service

    monkeypatch.setattr(pagefind.service, "get_executable", lambda: None)
    return "found no pagefind binary"


def _missing_file(monkeypatch, tmp_path):
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(tmp_path / "no-such-pagefind"))
    return "cannot run pagefind"


def _broken_binary(monkeypatch, tmp_path):
    exe = tmp_path / "pagefind"
    exe.write_text("#!/bin/sh\necho 'pagefind: cannot load its dictionaries' >&2\nexit 3\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(exe))
    return "cannot load its dictionaries"


@pytest.mark.parametrize("breaks", [_no_binary, _missing_file, _broken_binary])
def test_a_missing_or_broken_pagefind_is_a_clear_error(cfg, tmp_path, monkeypatch, capsys, breaks):
    expected = breaks(monkeypatch, tmp_path)
    assert cli("run", "--force", "-q", "-c", cfg) == 2
    err = capsys.readouterr().err
    assert expected in err and err.startswith("tidings: ")
    assert "a bug" not in err and "Traceback" not in err
    assert (tmp_path / "public" / "index.html").is_file()  # the pages are built; only the search index is not


def test_a_bundle_is_swapped_in_only_once_its_files_have_their_content(tmp_path, monkeypatch):
    """Pagefind answers WriteFiles when its files exist, and may still be writing into them (tokio): an empty
    file is waited for, and one left empty is an error, not a bundle without its entry."""
    import threading
    import time

    from tidings.errors import SearchIndexError
    from tidings.publish.site import search

    shard = search.Shard("2024-06-30")
    bundle = tmp_path / "b"
    (bundle / "fragment").mkdir(parents=True)
    entry, fragment = bundle / "pagefind-entry.json", bundle / "fragment" / "x.pf_fragment"
    entry.write_text('{"version": "1"}')
    fragment.touch()
    late = threading.Timer(0.1, fragment.write_bytes, args=(b"\x1f\x8b...",))
    late.start()
    t0 = time.monotonic()
    search._wait_written(bundle, shard)
    assert fragment.stat().st_size > 0 and time.monotonic() - t0 >= 0.09
    late.join()
    (bundle / "index.pf_index").touch()
    monkeypatch.setattr(search, "WRITE_WAIT", 0.05)
    with pytest.raises(SearchIndexError, match="1 files empty in shard 2024-06-30"):
        search._wait_written(bundle, shard)
    assert not bundle.exists()
