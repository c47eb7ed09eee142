"""Disk full and read-only output: a clear error naming the path; nothing recorded that was not written,
so the next run publishes what was missed. Uses real tmpfs mounts (root only; skipped elsewhere). The full disk
is the output's, not the store's, so both backends run (store_at)."""
import os
import subprocess

import pytest
from feedserver import rss
from util import cli, posts, store_rows, store_value, write_config


def _mount(path, *opts):
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(opts), "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    blog = tmp_path / "blog"
    if os.geteuid() != 0 or not _mount(blog, "size=160k"):
        pytest.skip("needs root and tmpfs mounts to fill a real file system")
    yield blog
    subprocess.run(["umount", "-l", str(blog)])


def big_items(n):
    return [{"title": f"Long story {i}", "guid": f"g{i}", "link": f"http://n.example/{i}",
             "pubDate": "Mon, 14 Mar 2022 06:22:47 GMT", "description": "<p>" + "字" * 3000 + "</p>"}
            for i in range(n)]


def ledger_matches_files(tmp_path, store_at):
    recorded = {r[0] for r in store_rows(store_at, "select path from posts")}
    on_disk = {p.relative_to(tmp_path / "blog" / "source" / "_posts").as_posix() for p in posts(tmp_path)}
    return recorded, on_disk


def test_disk_full_names_the_path_and_the_next_run_catches_up(tmp_path, store_at, server, small_disk, capsys):
    url = server.add("/f", rss(big_items(40)))  # 40 × ~9 KB > 160 KiB
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url, "limit": 40}], store=store_at)
    assert cli("run", "-q", "-c", cfg) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and str(small_disk) in err
    recorded, on_disk = ledger_matches_files(tmp_path, store_at)
    assert recorded <= on_disk  # nothing recorded as published that is not on disk
    assert store_value(store_at, "select count(*) from items") == 40  # the fetch itself was kept
    assert not list(small_disk.rglob(".tidings-tmp-*"))

    subprocess.run(["mount", "-o", "remount,size=8m", str(small_disk)], check=True)
    assert cli("run", "-q", "-c", cfg) == 0
    recorded, on_disk = ledger_matches_files(tmp_path, store_at)
    assert len(on_disk) == 40 and recorded == on_disk


def test_read_only_output_is_a_clear_error(tmp_path, store_at, server, small_disk, capsys):
    url = server.add("/f", rss(big_items(2)))
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url}], store=store_at)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    assert cli("run", "-q", "-c", cfg) == 1
    err = capsys.readouterr().err
    assert "Read-only file system" in err and str(small_disk) in err
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert cli("run", "-q", "-c", cfg) == 0
    assert len(posts(tmp_path)) == 2
