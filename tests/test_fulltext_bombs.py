"""A full-text article page that is a compression bomb: `tidings run` stays small and the item keeps
its feed content (issue 11, part 6).

The CLI runs in a child process so its peak RSS is its own (VmHWM), under a 3 GiB address-space
limit so that a regression fails the test instead of eating the machine. Only the CLI is used here,
no tidings internals, so this file also runs against older code (PYTHONPATH=<old checkout>/src; -k sqlite
for a tidings without PostgreSQL).

Every case runs on SQLite and PostgreSQL (store_at), the memory check too: it measures the tidings process,
which is where the page is fetched and decompressed on either backend; the bomb never reaches the store (the
PostgreSQL server's memory, outside the child, holds only the feed's item), and a PostgreSQL child's peak is
about 10 MiB above a SQLite one's (psycopg and libpq), far below the 400 MiB bound.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from bombs import MiB, brotli_zeros, gzip_gzip_zeros, gzip_zeros
from feedserver import rss
from util import posts, store_rows, write_config

GiB = 1 << 30
# The child limits its own address space first (preexec_fn is unsafe beside the server's threads), and
# reports its own peak: VmHWM, not wait4's ru_maxrss, which Linux carries over from the parent (this test
# process, hundreds of MiB by the end of the suite) across fork + exec.
RUN = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({3 * GiB}, {3 * GiB}))
from tidings.cli import main
try:
    code = main(sys.argv[1:])
finally:
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
    print(f"peak RSS {{int(hwm.split()[1]) // 1024}} MiB", flush=True)
sys.exit(code)
"""


def run_cli(*args: str) -> tuple[int, str, int]:
    """(exit code, stdout + stderr, peak RSS in MiB) of `tidings ARGS` in a child process."""
    proc = subprocess.run([sys.executable, "-c", RUN, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.decode("utf-8", "replace")
    peak = re.findall(r"peak RSS (\d+) MiB", out)
    assert peak, out[-2000:]
    return proc.returncode, out, int(peak[-1])


BOMBS = {
    "br": lambda: brotli_zeros(GiB + 8 * MiB),  # ~2 KB
    "gzip, gzip": lambda: gzip_gzip_zeros(GiB + 8 * MiB),  # ~2 KB; each layer alone would be 1,000:1 at most
    "gzip": lambda: gzip_zeros(GiB + 8 * MiB),  # ~1 MB: the plain kind
}


@pytest.mark.parametrize("encoding", list(BOMBS))
def test_full_text_bomb_is_cut_at_the_cap(tmp_path, store_at, server, encoding):
    server.server.handle_error = lambda request, address: None  # the client hangs up mid-body
    bomb = BOMBS[encoding]()
    assert len(bomb) < 1.1 * MiB
    page = server.add("/story/1", bomb, content_type="text/html; charset=utf-8",
                      headers={"Content-Encoding": encoding})
    item = {"title": "Bridge reopens", "guid": "b1", "link": page,
            "description": "<p>The feed's own summary of the bridge story.</p>",
            "pubDate": "Mon, 14 Mar 2022 01:00:00 GMT"}
    feed = server.add("/f", rss([item]))
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": feed, "full_text": True}],
                       fetch={"allow_private": True, "timeout": 10}, store=store_at)

    code, out, peak = run_cli("run", "-c", str(cfg))

    print(f"{encoding}: {len(bomb):,} bytes on the wire, peak RSS {peak} MiB")
    assert code == 0, out
    assert server.hits["/story/1"] == 1
    assert peak < 400, f"peak RSS {peak} MiB"
    # The operator is told why the article was not used...
    assert f"full text of {page}: too large (more than 15 MiB)" in out, out
    # ...and the item is published with the feed's content.
    (post,) = posts(tmp_path)
    assert "The feed's own summary of the bridge story." in post.read_text(encoding="utf-8")
    # fulltext is 0 on SQLite, False on PostgreSQL
    assert store_rows(store_at, "select state, fulltext from items where guid = 'b1'") == [("published", 0)]


# The feed fetcher's other limits reach full text through `tidings run` too: fetch.timeout for the whole
# request (a page that trickles in), fetch.max_redirects, and the address check (the feed itself may be
# local: it is the operator's own; an article link to a local address is not fetched unless allowed).
LIMITS = {
    "total time": ({"allow_private": True, "timeout": 1}, "timed out after 1 s"),
    "redirects": ({"allow_private": True, "max_redirects": 2}, "too many redirects (more than 2)"),
    "address check": ({}, "127.0.0.1 refused"),
}


@pytest.mark.parametrize("limit", list(LIMITS))
def test_full_text_obeys_the_feed_fetchers_limits(tmp_path, store_at, server, limit):
    server.server.handle_error = lambda request, address: None  # the client hangs up mid-body
    fetch, note = LIMITS[limit]
    if limit == "total time":  # each byte in time for any read timeout, the page far too slow as a whole
        page = server.add("/story/1", b"<html><body><article>" + b"x" * 400, content_type="text/html",
                          trickle=0.05)
    elif limit == "redirects":
        for hop in range(4):
            server.add(f"/story/{hop}", status=302, headers={"Location": f"/story/{hop + 1}"})
        page = server.url("/story/0")
    else:
        page = server.add("/story/1", b"<html><body><article><p>secret</p></article></body></html>",
                          content_type="text/html")
    item = {"title": "Bridge reopens", "guid": "b1", "link": page,
            "description": "<p>The feed's own summary of the bridge story.</p>",
            "pubDate": "Mon, 14 Mar 2022 01:00:00 GMT"}
    feed = server.add("/f", rss([item]))
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": feed, "full_text": True}], fetch=fetch,
                       store=store_at)

    started = time.monotonic()
    code, out, _ = run_cli("run", "-c", str(cfg))

    assert code == 0, out
    assert f"full text of {page}: " in out and note in out, out
    assert time.monotonic() - started < 15
    if limit == "redirects":
        assert server.hits["/story/2"] == 1 and server.hits["/story/3"] == 0  # 2 redirects followed
    if limit == "address check":
        assert server.hits["/story/1"] == 0  # refused before sending
    (post,) = posts(tmp_path)
    assert "The feed's own summary of the bridge story." in post.read_text(encoding="utf-8")
