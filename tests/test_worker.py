"""`tidings worker` on procrastinate (SPEC §11, issue 13): worker processes on a throwaway PostgreSQL cluster,
feeds from a loopback server whose request log shows which source was fetched when."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from feedserver import FeedServer, rss
from util import cli, posts, write_config

from tidings.store import open_store

ROOT = Path(__file__).resolve().parents[1]


def items(path: str, n: int = 2) -> list[dict]:
    return [{"title": f"{path} story {i}", "link": f"http://example.com{path}/{i}", "guid": f"{path}-{i}",
             "pubDate": f"Mon, 0{i + 1} Jan 2024 10:00:00 +0000", "description": f"<p>{path} body {i}</p>"}
            for i in range(n)]


class TimedFeeds:
    """Feeds whose every request is logged with its start and end (monotonic seconds), to find overlaps."""

    def __init__(self, server: FeedServer, n: int, delay: float = 0.05):
        self.server = server
        self.log: list[tuple[str, float, float]] = []
        self.lock = threading.Lock()
        self.urls = []
        for i in range(n):
            path = f"/f{i}"
            body = rss(items(path), title=f"feed {i}").encode()
            self.urls.append(server.add(path, handler=self._handler(path, body, delay)))

    def _handler(self, path: str, body: bytes, delay: float):
        def handle(req) -> None:
            start = time.monotonic()
            time.sleep(delay)
            req.send_response(200)
            req.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            req.send_header("Content-Length", str(len(body)))
            req.send_header("Cache-Control", "max-age=3600")
            req.end_headers()
            req.wfile.write(body)
            with self.lock:
                self.log.append((path, start, time.monotonic()))
        return handle

    def fetched(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for path, _, _ in self.log:
            out[path] = out.get(path, 0) + 1
        return out

    def overlaps(self) -> list[str]:
        by_path: dict[str, list[tuple[float, float]]] = {}
        for path, a, b in self.log:
            by_path.setdefault(path, []).append((a, b))
        bad = []
        for path, spans in by_path.items():
            spans.sort()
            bad += [path for (_, e1), (s2, _) in zip(spans, spans[1:], strict=False) if s2 < e1]
        return bad


def config(tmp_path: Path, pg_url: str, urls: list[str], **kw) -> Path:
    sources = [{"category": "c", "source": f"s{i}", "url": u} for i, u in enumerate(urls)]
    return write_config(tmp_path, sources, store=pg_url, site_dir="public", site={"search": False}, **kw)


class Worker:
    def __init__(self, cfg: Path, *args: str, name: str = "w"):
        self.log_path = cfg.parent / f"{name}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("TIDINGS_STORE", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "tidings.cli", "worker", "-c", str(cfg), *args],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log_path, "wb"), env=env,
                                     cwd=cfg.parent)

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def wait_for(cond, timeout: float, what: str, every: float = 0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def workers():
    started: list[Worker] = []
    yield started
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait(10)


def test_worker_refuses_a_sqlite_store(tmp_path, capsys):
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": "http://127.0.0.1:9/feed"}])
    assert cli("worker", "-c", cfg) == 2
    err = capsys.readouterr().err
    assert "SQLite" in err and "PostgreSQL" in err


def test_a_worker_fetches_each_feed_once_and_publishes(tmp_path, server, pg_url, workers):
    feeds = TimedFeeds(server, 20)
    cfg = config(tmp_path, pg_url, feeds.urls)
    w = Worker(cfg, "--publish", "--concurrency", "8")
    workers.append(w)
    wait_for(lambda: len(feeds.fetched()) == 20, 30, "every feed fetched")
    wait_for(lambda: len(posts(tmp_path)) == 40 and "build:" in w.text(), 30, "the build")
    time.sleep(1.0)
    assert w.stop() == 0
    assert feeds.fetched() == {f"/f{i}": 1 for i in range(20)}
    with open_store(pg_url) as store:
        assert store.count_items() == 40
    assert len(list((tmp_path / "public" / "a").rglob("*.html"))) == 40
    text = w.text()
    assert text.count("fetch ") >= 20, text
