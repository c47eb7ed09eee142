"""fetch.py against a local server: conditional GET, limits, retries, failures with reasons."""
import asyncio
import time

from feedserver import rss

from tidings.fetch import FetchOptions, fetch_all
from tidings.http import retry_after_seconds
from tidings.model import Source

BODY = rss([{"title": "a", "guid": "1"}])


def src(url):
    return Source(url=url, category="c", source="s", channel="")


def fetch(urls, opts=None, state=lambda s: (None, None)):
    opts = opts or FetchOptions(timeout=2, retries=0, backoff=0.01)
    return asyncio.run(fetch_all([src(u) for u in urls], opts, state=state))


def test_ok_and_conditional_get(server):
    url = server.add("/f", BODY, etag='"v1"', headers={"Last-Modified": "Mon, 14 Mar 2022 06:22:47 GMT"})
    (r,) = fetch([url])
    assert r.ok and r.status == 200 and r.body == BODY.encode() and r.etag == '"v1"'
    assert r.last_modified == "Mon, 14 Mar 2022 06:22:47 GMT"
    (r2,) = fetch([url], state=lambda s: ('"v1"', r.last_modified))
    assert r2.not_modified and r2.body == b""
    assert server.requests[-1][1]["If-None-Match"] == '"v1"'
    assert server.requests[-1][1]["If-Modified-Since"] == r.last_modified


def test_gzip_and_user_agent(server):
    url = server.add("/g", BODY, gzip=True)
    (r,) = fetch([url], FetchOptions(timeout=2, retries=0, user_agent="tidings-test/1"))
    assert r.body == BODY.encode()
    assert server.requests[-1][1]["User-Agent"] == "tidings-test/1"


def test_failures_have_reasons(server):
    server.add("/loop", status=302, headers={"Location": "/loop"})
    urls = {
        "404": server.add("/missing-route", status=404),
        "500": server.add("/e", status=500),
        "big": server.add("/big", b"x" * 5000),
        "bomb": server.add("/bomb", b"<" * 200000, gzip=True),
        "slow": server.add("/slow", BODY, delay=3),
        "trickle": server.add("/trickle", BODY, trickle=0.05),
        "loop": server.url("/loop"),
        "refused": "http://127.0.0.1:1/feed",
    }
    results = fetch(list(urls.values()), FetchOptions(timeout=1.5, retries=0, max_bytes=4096, max_redirects=3))
    reasons = {k: r.error for k, r in zip(urls, results)}
    assert reasons["404"] == "HTTP 404"
    assert reasons["500"] == "HTTP 500"
    assert reasons["big"].startswith("too large")
    assert reasons["bomb"].startswith("too large")  # measured after decompression
    assert reasons["slow"] == "timed out after 1.5 s"
    assert reasons["trickle"] == "timed out after 1.5 s"  # a total-time limit, not only per read
    assert reasons["loop"] == "too many redirects (more than 3)"
    assert reasons["refused"].startswith("cannot connect")


def test_retries_on_5xx_then_succeeds(server):
    calls = {"n": 0}

    def flaky(h):
        calls["n"] += 1
        if calls["n"] < 3:
            h.send_response(503)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        body = BODY.encode()
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    url = server.add("/flaky", handler=flaky)
    (r,) = fetch([url], FetchOptions(timeout=2, retries=2, backoff=0.01))
    assert r.ok and calls["n"] == 3


def test_429_honours_retry_after(server):
    calls = {"n": 0, "times": []}

    def limited(h):
        calls["n"] += 1
        calls["times"].append(time.monotonic())
        status = 429 if calls["n"] == 1 else 200
        body = b"" if status == 429 else BODY.encode()
        h.send_response(status)
        if status == 429:
            h.send_header("Retry-After", "1")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    url = server.add("/limited", handler=limited)
    (r,) = fetch([url], FetchOptions(timeout=3, retries=2, backoff=0.01))
    assert r.ok and calls["n"] == 2
    assert calls["times"][1] - calls["times"][0] >= 0.95


def test_retry_after_too_long_fails_now(server):
    url = server.add("/later", status=429, headers={"Retry-After": "3600"})
    (r,) = fetch([url], FetchOptions(timeout=2, retries=2, backoff=0.01))
    assert r.error == "HTTP 429, retry after 3600 s"
    assert server.hits["/later"] == 1


def test_retry_after_parsing():
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412420) == 60
    assert retry_after_seconds("soon") is None


def test_concurrency_is_bounded(server):
    urls = [server.add(f"/c{i}", BODY, delay=0.3) for i in range(8)]
    started = time.monotonic()
    results = fetch(urls, FetchOptions(timeout=5, retries=0, concurrency=4, per_host=4))
    elapsed = time.monotonic() - started
    assert all(r.ok for r in results)
    assert 0.55 <= elapsed < 1.5  # two waves of four
