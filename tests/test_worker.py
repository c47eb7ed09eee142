"""`tidings worker` on procrastinate (SPEC §11, issue 13): worker processes on a throwaway PostgreSQL cluster,
feeds from a loopback server whose request log shows which source was fetched when."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
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

    def __init__(self, server: FeedServer, n: int, delay: float = 0.05, max_age: int = 3600):
        self.server = server
        self.max_age = max_age
        self.started: list[float] = []
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
            with self.lock:
                self.started.append(start)
            time.sleep(delay)
            req.send_response(200)
            req.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            req.send_header("Content-Length", str(len(body)))
            req.send_header("Cache-Control", f"max-age={self.max_age}")
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
    lines = w.text().splitlines()
    assert sum(" fetch c › s" in line for line in lines) == 20, lines  # one line per job
    builds = [line for line in lines if " build: " in line]
    assert builds and all(re.search(r"build: hexo \d+ written, \d+ unchanged, \d+ deleted; site \d+ written", b)
                          for b in builds), builds


def test_sources_check_shows_the_jobs(tmp_path, server, pg_url, workers, capsys):
    feeds = TimedFeeds(server, 3)
    cfg = config(tmp_path, pg_url, feeds.urls)
    assert cli("sources", "check", "-c", cfg) == 0
    assert "jobs:" not in capsys.readouterr().out  # no worker ever ran: no queue to show
    w = Worker(cfg, "--concurrency", "2")
    workers.append(w)
    wait_for(lambda: len(feeds.fetched()) == 3, 30, "every feed fetched")
    wait_for(lambda: w.text().count("fetch ") >= 3, 10, "the job lines")
    assert w.stop() == 0
    assert cli("sources", "check", "-c", cfg) == 0
    out = capsys.readouterr().out
    # each source's next fetch waits in the queue; no --publish worker ran, so the build waits too
    assert "jobs: 4 queued, 0 running, 0 failed, 0 stalled" in out, out
    assert "fetch 3/0/0" in out and "publish 1/0/0" in out, out


def test_two_workers_never_fetch_one_source_at_once(tmp_path, server, pg_url, workers):
    feeds = TimedFeeds(server, 6, delay=0.3, max_age=1)
    cfg = config(tmp_path, pg_url, feeds.urls, fetch={"timeout": 3, "retries": 0, "min_interval": 0})
    workers += [Worker(cfg, "--concurrency", "4", name="a"), Worker(cfg, "--concurrency", "4", name="b")]
    wait_for(lambda: min(feeds.fetched().values() or [0]) >= 3 and len(feeds.fetched()) == 6, 45,
             "each feed fetched three times")
    assert [w.stop() for w in workers] == [0, 0]
    assert feeds.overlaps() == []
    # both workers took fetch jobs
    assert all("fetch " in w.text() for w in workers), [w.text() for w in workers]
    with open_store(pg_url) as store:
        assert store.count_items() == 12  # fetched again and again, stored once


def test_sigterm_finishes_the_running_fetch_then_exits_0(tmp_path, server, pg_url, workers):
    feeds = TimedFeeds(server, 1, delay=2.0)
    cfg = config(tmp_path, pg_url, feeds.urls)
    w = Worker(cfg, "--concurrency", "2")
    workers.append(w)
    wait_for(lambda: feeds.started, 30, "the fetch to start")
    w.proc.send_signal(signal.SIGTERM)
    assert w.proc.wait(30) == 0
    assert feeds.log, "the worker exited before its fetch finished"
    with open_store(pg_url) as store:
        assert store.count_items() == 2
        assert store.source_state(feeds.urls[0]).last_success is not None
    assert "fetch " in w.text()


@pytest.mark.slow
def test_a_killed_workers_job_is_retried_by_another(tmp_path, server, pg_url, workers):
    feeds = TimedFeeds(server, 1, delay=2.5)
    cfg = config(tmp_path, pg_url, feeds.urls)
    a = Worker(cfg, "--concurrency", "2", name="a")
    workers.append(a)
    wait_for(lambda: feeds.started, 30, "the fetch to start")
    b = Worker(cfg, "--concurrency", "2", "--publish", name="b")
    workers.append(b)
    time.sleep(1.0)
    a.proc.kill()
    killed = time.monotonic()
    a.proc.wait(10)
    wait_for(lambda: len(feeds.started) >= 2, 60, "the stalled fetch to be retried")
    assert feeds.started[1] - killed < 60
    wait_for(lambda: len(posts(tmp_path)) == 2, 30, "the build")
    assert b.stop() == 0
    with open_store(pg_url) as store:
        assert store.count_items() == 2
    from tidings.config import load
    from tidings.worker import job_summary

    summary = job_summary(load(cfg))
    assert summary is not None and summary["stalled"] == 0 and summary["running"] == 0, summary


def in_flight(log: list[tuple[str, float, float]]) -> int:
    """The most requests the server was answering at once."""
    events = sorted([(a, 1) for _, a, _ in log] + [(b, -1) for _, _, b in log])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def test_host_slots_are_shared_between_sessions(pg_url):
    from tidings.store.postgres import HostSlots

    a, b = HostSlots(pg_url), HostSlots(pg_url)
    try:
        assert a.try_acquire("feeds.example", 2) == 0
        assert a.try_acquire("feeds.example", 2) == 1  # a session's own slots are not taken twice
        assert b.try_acquire("feeds.example", 2) is None
        assert b.try_acquire("other.example", 2) == 0  # another host has slots of its own
        a.release("feeds.example", 0)
        assert b.try_acquire("feeds.example", 2) == 0
        assert a.try_acquire("feeds.example", 2) is None
        a.close()  # a process that dies frees its slots: once the server has ended its session (not at once)
        taken: list[int | None] = []
        wait_for(lambda: taken.append(b.try_acquire("feeds.example", 2)) or taken[-1] is not None, 10,
                 "the closed session's slot")
        assert taken[-1] == 1
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("per_host", [1, 2])
def test_per_host_holds_across_workers(tmp_path, server, pg_url, workers, per_host):
    feeds = TimedFeeds(server, 12, delay=0.3)  # one host: 127.0.0.1:port
    cfg = config(tmp_path, pg_url, feeds.urls, fetch={"timeout": 5, "retries": 0, "per_host": per_host})
    workers += [Worker(cfg, "--concurrency", "6", name=n) for n in "abc"]
    wait_for(lambda: len(feeds.fetched()) == 12, 60, "every feed fetched")
    assert [w.stop() for w in workers] == [0, 0, 0]
    assert in_flight(feeds.log) == per_host  # reached, never passed: 3 workers × per_host would be allowed alone


@pytest.mark.slow
def test_three_workers_over_500_feeds_with_one_killed_mid_cycle(tmp_path, server, pg_url, workers):
    """Issue 13: 500 feeds at 100 ms, 3 workers (one --publish), a non-publish worker SIGKILLed mid-cycle:
    every feed fetched, every item stored and published once, no stalled job left."""
    feeds = TimedFeeds(server, 500, delay=0.1)
    cfg = config(tmp_path, pg_url, feeds.urls, fetch={"timeout": 10, "retries": 0, "per_host": 16})
    a = Worker(cfg, "--concurrency", "8", name="a")
    workers += [a, Worker(cfg, "--concurrency", "8", name="b"),
                Worker(cfg, "--concurrency", "8", "--publish", name="p")]
    wait_for(lambda: len(feeds.fetched()) >= 150, 60, "a third of the feeds fetched")
    a.proc.kill()
    a.proc.wait(10)
    wait_for(lambda: len(feeds.fetched()) == 500, 90, "every feed fetched")
    site = tmp_path / "public" / "a"
    wait_for(lambda: len(posts(tmp_path)) == 1000 and len(list(site.rglob("*.html"))) == 1000, 90,
             "every item published", every=0.5)
    from tidings.config import load
    from tidings.worker import job_summary

    wait_for(lambda: (job_summary(load(cfg)) or {}).get("stalled") == 0, 60, "no stalled job", every=1)
    assert [w.stop() for w in workers[1:]] == [0, 0]
    with open_store(pg_url) as store:
        assert store.count_items() == 1000
        assert len(store.posts()) == 1000
    assert len({p.name for p in posts(tmp_path)}) == 1000
    summary = job_summary(load(cfg))
    assert summary is not None and summary["stalled"] == summary["running"] == summary["failed"] == 0, summary
    # every source still has its next fetch queued, and no source was fetched twice at once
    assert summary["queues"]["fetch"]["todo"] == 500, summary
    assert feeds.overlaps() == []
    # the killed worker was mid-job: its jobs were retried by the others
    assert "retried stalled job" in workers[1].text() + workers[2].text()


def test_a_source_added_to_the_configuration_starts_by_itself(tmp_path, server, pg_url, workers):
    feeds = TimedFeeds(server, 3)
    cfg = config(tmp_path, pg_url, feeds.urls[:2])
    w = Worker(cfg, "--concurrency", "2")
    workers.append(w)
    wait_for(lambda: len(feeds.fetched()) == 2, 30, "the two configured feeds fetched")
    config(tmp_path, pg_url, feeds.urls)  # the operator adds a source; no restart, no command
    wait_for(lambda: len(feeds.fetched()) == 3, 30, "the new source fetched")  # maintain runs every 10 s
    assert w.stop() == 0
    assert feeds.fetched() == {"/f0": 1, "/f1": 1, "/f2": 1}
    assert "configuration reloaded: 3 sources" in w.text()


def test_fetch_jobs_are_taken_in_order_of_due_time(pg_url):
    """A job that became due earlier goes first, whatever the order it was queued in: procrastinate takes the
    highest priority, and worker.due_priority ranks by due time (without it, ids: queue order)."""
    import asyncio

    from tidings.store.postgres import JobTables
    from tidings.worker import defer_fetch, ensure_schema, open_app

    async def run() -> list[str]:
        async with open_app(pg_url) as app:
            await ensure_schema(app)
            tables = JobTables(pg_url)
            tables.add_indexes()
            tables.close()
            now = time.time()
            # queued in this order; due 10 s ago, 100 s ago, in an hour, now
            for key, when in (("b", now - 10), ("a", now - 100), ("later", now + 3600), ("c", now)):
                assert await defer_fetch(app, key, when)
            assert not await defer_fetch(app, "a", now)  # one waiting job per source
            wid = await app.job_manager.register_worker()
            taken = []
            while job := await app.job_manager.fetch_job(queues=["fetch"], worker_id=wid):
                taken.append(job.task_kwargs["source_key"])
            return taken

    assert asyncio.run(run()) == ["a", "b", "c"]  # "later" is not due


def test_sources_without_a_job_are_found_by_the_store(tmp_path, pg_url):
    import asyncio

    from tidings.model import Source
    from tidings.store.postgres import JobTables
    from tidings.worker import defer_fetch, ensure_schema, open_app

    with open_store(pg_url) as store:
        sources = [Source(url=f"http://127.0.0.1:9/{k}", category="c", source=k, channel="")
                   for k in "xyz"]
        store.sync_sources(sources)

    async def run() -> tuple[list[str], list[str]]:
        async with open_app(pg_url) as app:
            await ensure_schema(app)
            tables = JobTables(pg_url)
            try:
                before = [k for k, _ in tables.without_job("fetch:")]
                await defer_fetch(app, before[0], None)  # one waits
                wid = await app.job_manager.register_worker()
                await defer_fetch(app, before[1], None)
                await app.job_manager.fetch_job(queues=["fetch"], worker_id=wid)  # one of the two runs
                after = [k for k, _ in tables.without_job("fetch:")]
            finally:
                tables.close()
            return before, after

    before, after = asyncio.run(run())
    assert before == sorted(s.key for s in sources)
    assert len(before) == 3 and after == before[2:]


@pytest.mark.slow
def test_a_second_publisher_waits_for_the_first(tmp_path, server, pg_url, workers):
    """SPEC §11: a second `tidings worker --publish` is allowed and waits; two builds never overlap."""
    feeds = TimedFeeds(server, 30, delay=0.05, max_age=2)
    cfg = config(tmp_path, pg_url, feeds.urls, fetch={"timeout": 5, "retries": 0, "min_interval": 0})
    workers += [Worker(cfg, "--publish", "--concurrency", "4", name=n) for n in "pq"]
    wait_for(lambda: len(feeds.fetched()) == 30 and len(posts(tmp_path)) == 60, 60, "every item published")
    wait_for(lambda: sum(w.text().count(" build: ") for w in workers) >= 2, 30, "a second build")
    assert [w.stop() for w in workers] == [0, 0]
    spans = []
    for w in workers:
        for m in re.finditer(r"^(\S+ \S+) INFO tidings\.worker: build: .* in (\d+\.\d+) s$", w.text(), re.M):
            end = time.mktime(time.strptime(m[1].split(",")[0], "%Y-%m-%d %H:%M:%S")) + int(m[1][-3:]) / 1000
            spans.append((end - float(m[2]), end))
    spans.sort()
    assert len(spans) >= 2
    assert all(b[0] >= a[1] - 0.01 for a, b in zip(spans, spans[1:], strict=False)), spans
    with open_store(pg_url) as store:
        assert store.count_items() == 60 and len(store.posts()) == 60
    assert len({p.name for p in posts(tmp_path)}) == 60


def test_many_fetches_are_queued_in_batches_and_one_already_waiting_is_kept(pg_url, monkeypatch):
    """defer_fetches queues DEFER_BATCH jobs a statement; a batch that meets a job already waiting (another
    worker queued it first) falls back to one at a time, so the others are still queued, each with its lock."""
    import asyncio

    import psycopg

    from tidings import worker
    from tidings.worker import defer_fetch, defer_fetches, ensure_schema, open_app

    monkeypatch.setattr(worker, "DEFER_BATCH", 3)
    now = time.time()
    due = [(f"s{k}", now - k) for k in range(7)]

    async def run() -> tuple[int, bool]:
        async with open_app(pg_url) as app:
            await ensure_schema(app)
            assert await defer_fetch(app, "s4", now)  # in the second batch
            return await defer_fetches(app, due), await defer_fetch(app, "s0", now)

    queued, again = asyncio.run(run())
    assert queued == 6 and not again
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT args->>'source_key', lock, queueing_lock FROM procrastinate_jobs "
                            "WHERE status = 'todo' ORDER BY 1").fetchall()
    assert rows == [(f"s{k}", f"fetch:s{k}", f"fetch:s{k}") for k in range(7)]


def test_a_worker_stores_its_concurrent_fetches_through_one_connection(tmp_path, server, pg_url, workers):
    """Fetch jobs running at once store through the worker's one store thread (feeds fetched together are
    stored together, one story lookup and one transaction): a worker holds three store connections (that
    thread's, one for the reads before a fetch, one for configuration changes and builds), not one per
    running job."""
    import psycopg

    feeds = TimedFeeds(server, 16, delay=0.4)
    cfg = config(tmp_path, pg_url, feeds.urls)
    w = Worker(cfg, "--concurrency", "8")
    workers.append(w)
    most, stores = 0, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tidings'"
    with psycopg.connect(pg_url, autocommit=True, application_name="test poll") as conn:
        end = time.monotonic() + 60
        while len(feeds.fetched()) < 16 and time.monotonic() < end:
            most = max(most, conn.execute(stores).fetchone()[0])
            time.sleep(0.02)
    assert len(feeds.fetched()) == 16
    wait_for(lambda: w.text().count(" fetch c › s") == 16, 30, "every job's line")
    assert w.stop() == 0
    assert 1 <= most <= 3, most
    with open_store(pg_url) as store:
        assert store.count_items() == 32


@contextmanager
def statements_sent(app):
    """The statements procrastinate's connector runs through execute_query_all_async (its defers among them)
    while the block runs: the real connector, each query noted."""
    sent: list[str] = []
    real = app.connector.execute_query_all_async

    async def recording(query, **arguments):
        sent.append(query)
        return await real(query, **arguments)

    app.connector.execute_query_all_async = recording
    try:
        yield sent
    finally:
        app.connector.execute_query_all_async = real


def test_a_build_is_queued_only_when_none_waits_and_without_a_failed_insert(pg_url):
    """defer_build asks whether a build waits before inserting one: a fetch job that meets a waiting build
    sends no insert for the server to refuse (the queueing lock would refuse it)."""
    import asyncio

    import psycopg

    from tidings.worker import defer_build, ensure_schema, open_app

    async def run() -> tuple[bool, bool, int, int]:
        async with open_app(pg_url) as app:
            await ensure_schema(app)
            first = await defer_build(app)
            with statements_sent(app) as sent:
                again = await defer_build(app)
            return first, again, sent, len(await app.job_manager.list_jobs_async(task="tidings:build"))

    first, again, sent, builds = asyncio.run(run())
    assert first and not again
    assert len(sent) == 1 and "procrastinate_defer" not in sent[0] and "status = 'todo'" in sent[0], sent
    assert builds == 1
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE queueing_lock = 'build' "
                            "AND status = 'todo'").fetchone()[0] == 1


def test_jobs_finishing_together_queue_their_next_fetches_in_one_statement(pg_url):
    """NextJobs: five fetch jobs finishing in one turn of the event loop (a batch stored at once) queue their
    sources' next fetches in one statement, and one build for the two that stored new items."""
    import asyncio

    import psycopg

    from tidings.worker import NextJobs, ensure_schema, open_app

    async def run() -> tuple[list[bool], list[str]]:
        async with open_app(pg_url) as app:
            await ensure_schema(app)
            next_jobs, now = NextJobs(), time.time()
            with statements_sent(app) as sent:
                built = await asyncio.gather(*(next_jobs.queue(app, f"s{k}", now + 60 * k, k in (1, 3))
                                               for k in range(5)))
            return list(built), sent

    built, sent = asyncio.run(run())
    assert built == [False, True, False, False, False]  # the build is said once, by the first job that asked
    assert sum("procrastinate_defer_jobs" in q for q in sent) == 2, sent  # the build's, then the five fetches'
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT task_name, count(*) FROM procrastinate_jobs WHERE status = 'todo' "
                            "GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [("tidings:build", 1), ("tidings:fetch_source", 5)]
