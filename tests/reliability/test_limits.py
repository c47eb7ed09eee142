"""Resource limits, measured: peak memory (VmHWM of a fresh process) and time for the inputs that
could exhaust them, each parsed or fetched alone so the number is the input's own.

The whole hostile corpus in one run (tests/reliability/test_hostile_corpus.py) is held to < 450 MiB
too; here each big input must stay far below that, and compression bombs may cost no more than the
body cap plus a few MiB of decoder buffers.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from feedserver import FeedServer, Route  # noqa: E402
from hostile import HOSTILE, body_of, load_cases  # noqa: E402

from tidings.fetch import FetchOptions  # noqa: E402
from tidings.parse import MAX_ITEMS, MAX_JSON_VALUES, MAX_XML_NODES  # noqa: E402

MiB = 1 << 20
CASES = {c["name"]: c for c in load_cases()}

PARSE_CHILD = r"""
import json, sys, time
def rss(field):
    return int(next(l for l in open("/proc/self/status") if l.startswith(field)).split()[1]) // 1024
from tidings.model import Source
from tidings.parse import ParseError, parse_feed
body = open(sys.argv[1], "rb").read()
base = rss("VmRSS")
t = time.monotonic()
try:
    n, reason = len(parse_feed(body, Source(url="http://x/", category="c", source="s", channel="")).entries), ""
except ParseError as e:
    n, reason = 0, str(e)
print(json.dumps({"base": base, "peak": rss("VmHWM"), "seconds": time.monotonic() - t, "entries": n, "reason": reason}))
"""


def _worst_under_budget() -> bytes:
    """Just under the node budget: elements with text, the costliest shape per byte."""
    n = MAX_XML_NODES - 10
    return (b'<rss version="2.0"><channel><item><title>x</title><description>' + b"<a>x</a>" * n
            + b"</description></item></channel></rss>")


def _attributes_over_budget() -> bytes:
    return (b'<rss version="2.0"><channel><item><title>x</title><description>'
            + b'<a b="1" c="2"/>' * 900_000 + b"</description></item></channel></rss>")


BIG_INPUTS = {
    # name: (body, expected reason substring or None for parsed, MiB the parse itself may add)
    "items-100000": (lambda: body_of(CASES["items-100000"]), f"too many items (100000; at most {MAX_ITEMS}", 30),
    "json-items-100000": (lambda: body_of(CASES["json-items-100000"]), "too many items (100000", 100),
    "xml-empty-items-15mb": (lambda: body_of(CASES["xml-empty-items-15mb"]), "too many XML elements", 30),
    "xml-tiny-elements-15mb": (lambda: body_of(CASES["xml-tiny-elements-15mb"]), "too many XML elements", 30),
    "xml-attributes-13mb": (_attributes_over_budget, "too many XML elements and attributes", 30),
    "xml-just-under-budget": (_worst_under_budget, None, 250),
    "json-empty-objects-15mb": (lambda: body_of(CASES["json-empty-objects-15mb"]), "too many JSON values", 60),
    "json-strings-15mb": (lambda: body_of(CASES["json-strings-15mb"]), "too many JSON values", 60),
    "title-1mb": (lambda: body_of(CASES["title-1mb"]), None, 60),
    "content-5mb": (lambda: body_of(CASES["content-5mb"]), None, 80),
    "huge-attribute": (lambda: body_of(CASES["huge-attribute"]), None, 80),
    "billion-laughs": (lambda: body_of(CASES["billion-laughs"]), "XML entity bomb", 10),
    "quadratic-blowup": (lambda: body_of(CASES["quadratic-blowup"]), "XML entity bomb", 10),
}


@pytest.mark.parametrize("name", list(BIG_INPUTS))
def test_big_input_parses_in_bounded_memory(tmp_path, name):
    make, reason, budget = BIG_INPUTS[name]
    path = tmp_path / "body"
    path.write_bytes(make())
    proc = subprocess.run([sys.executable, "-c", PARSE_CHILD, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout)
    grew = r["peak"] - r["base"]
    print(f"{name}: {path.stat().st_size / MiB:.1f} MiB body, +{grew} MiB over {r['base']} MiB, "
          f"{r['seconds']:.2f} s, {r['reason'] or str(r['entries']) + ' entries'}")
    if reason is None:
        assert not r["reason"] and r["entries"] >= 1
    else:
        assert reason in r["reason"]
    assert grew < budget, f"{name}: parsing added {grew} MiB (budget {budget} MiB)"
    assert r["seconds"] < 10


FETCH_CHILD = r"""
import asyncio, json, sys, time
def rss(field):
    return int(next(l for l in open("/proc/self/status") if l.startswith(field)).split()[1]) // 1024
from tidings.fetch import FetchOptions, fetch_all
from tidings.model import Source
base = rss("VmRSS")
t = time.monotonic()
(r,) = asyncio.run(fetch_all([Source(url=sys.argv[1], category="c", source="s", channel="")],
                             FetchOptions(timeout=float(sys.argv[2]), retries=0)))
print(json.dumps({"base": base, "peak": rss("VmHWM"), "seconds": time.monotonic() - t, "error": r.error,
                  "bytes": len(r.body)}))
"""


def _zeros(total: int, wbits: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    chunk = b"\0" * (8 * MiB)
    return b"".join([c.compress(chunk) for _ in range(total // len(chunk))] + [c.flush()])


def _route(body: bytes, encoding: str) -> Route:
    return Route(body=body, headers={"Content-Encoding": encoding})


@pytest.fixture(scope="module")
def bomb_server():
    server = FeedServer()
    server.server.handle_error = lambda request, address: None
    server.start()
    server.routes["/gzip-256m"] = _route(_zeros(256 * MiB, 31), "gzip")
    server.routes["/deflate-256m"] = _route(_zeros(256 * MiB, 15), "deflate")
    server.routes["/brotli-10g"] = _route((HOSTILE / "bombs" / "zeros-10G.br").read_bytes(), "br")
    server.routes["/gzip-gzip-1g"] = _route(zlib.compress(_zeros(1 << 30, 31), 9), "gzip, deflate")
    server.routes["/trickle"] = Route(body=b"<rss>" + b" " * 4000 + b"</rss>", trickle=0.01)
    yield server
    server.stop()


@pytest.mark.parametrize("path,reason", [
    ("/gzip-256m", "too large"), ("/deflate-256m", "too large"), ("/brotli-10g", "too large"),
    ("/gzip-gzip-1g", "too large"), ("/trickle", "timed out after 1.5 s"),
])
def test_bombs_are_cut_at_the_cap_after_decompression(bomb_server, path, reason):
    cap = FetchOptions().max_bytes
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", FETCH_CHILD, bomb_server.url(path), "1.5"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout)
    grew = r["peak"] - r["base"]
    print(f"{path}: {r['error']}, +{grew} MiB over {r['base']} MiB, {r['seconds']:.2f} s")
    assert reason in (r["error"] or "")
    assert r["bytes"] == 0
    # The decoded body is held until it passes the cap (15 MiB), plus ~1 MiB pieces and decoder state.
    assert grew < cap / MiB + 40, f"{path}: +{grew} MiB"
    assert r["seconds"] < 5 and time.monotonic() - started < 30


def test_limits_in_force_match_the_docs():
    """docs/reliability.md quotes these numbers; keep them in step."""
    from tidings.config import FetchSettings
    from tidings.parse import MAX_DATE_CHARS, SCAN_BYTES

    f = FetchSettings()
    doc = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text(encoding="utf-8")
    for number in (f"{f.timeout:g} s", f"{f.max_bytes // MiB} MiB", f"{f.max_redirects} redirects",
                   f"{f.retries} retries", f"{MAX_ITEMS:,}", f"{MAX_XML_NODES:,}", f"{MAX_JSON_VALUES:,}",
                   f"{SCAN_BYTES // MiB} MiB", f"{MAX_DATE_CHARS}"):
        assert number in doc, f"docs/reliability.md does not mention {number!r}"
