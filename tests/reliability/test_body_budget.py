"""`tidings run` bounds the bytes of large bodies it holds at once (jobs.LARGE_BODIES × fetch.max_bytes):
bodies read, or read and waiting for the store's thread, are counted until their batch is stored, and every
feed is still stored as it is without the bound. The lane that counts them is the same on either store, so
SQLite alone is used."""
from __future__ import annotations

import threading

import pytest
from feedserver import FeedServer, rss
from util import cli, store_rows, write_config

from tidings import http, jobs

FEEDS = 10
MAX_BYTES = 3 << 20  # fetch.max_bytes: the budget is LARGE_BODIES of it


def big_feed(n: int) -> str:
    """About 2 MiB of RSS: more than BodyBudget.FREE, so it must be counted."""
    para = f"<p>feed {n}: " + "words of a long story " * 400 + "</p>"
    items = [{"title": f"feed {n} item {i}", "link": f"http://example.com/{n}/{i}", "guid": f"{n}-{i}",
              "description": para * 15} for i in range(15)]
    return rss(items, title=f"feed {n}")


def run(root, server: FeedServer) -> list[tuple]:
    store_at = str(root / "t.db")
    sources = [{"category": "Big", "source": f"feed {n}", "url": server.url(f"/f{n}")} for n in range(FEEDS)]
    root.mkdir()
    cfg = write_config(root, sources, store=store_at,
                       fetch={"timeout": 20, "retries": 0, "concurrency": 8, "per_host": 8, "max_bytes": MAX_BYTES})
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    return store_rows(store_at, "SELECT source_key, title FROM items ORDER BY source_key, title")


@pytest.fixture
def server():
    s = FeedServer()
    for n in range(FEEDS):
        body = big_feed(n)
        assert http.BodyBudget.FREE < len(body.encode()) < MAX_BYTES
        s.add(f"/f{n}", body)
    s.start()
    yield s
    s.stop()


def test_large_bodies_held_at_once_stay_within_the_budget(tmp_path, server, monkeypatch):
    budgets: list[http.BodyBudget] = []
    most = 0
    reserve, give_back = http.BodyBudget.reserve, http.BodyBudget.give_back

    async def watched_reserve(self: http.BodyBudget, n: int) -> int:
        nonlocal most
        if self not in budgets:
            budgets.append(self)
        got = await reserve(self, n)
        most = max(most, self.held)
        return got

    def watched_give_back(self: http.BodyBudget, n: int) -> None:
        nonlocal most
        give_back(self, n)
        most = max(most, self.held)

    monkeypatch.setattr(http.BodyBudget, "reserve", watched_reserve)
    monkeypatch.setattr(http.BodyBudget, "give_back", watched_give_back)
    bounded = run(tmp_path / "bounded", server)
    (budget,) = budgets
    assert budget.limit == jobs.LARGE_BODIES * MAX_BYTES
    assert budget.held == 0  # every body was given back once stored
    assert 0 < most <= budget.limit

    monkeypatch.setattr(jobs, "LARGE_BODIES", 1000)  # no bound in effect: the same items stored
    assert run(tmp_path / "free", server) == bounded
    assert len(bounded) == FEEDS * 15


def test_the_refreshes_a_worker_runs_share_the_budget_and_the_store_work_never_sees_it(tmp_path, server,
                                                                                       monkeypatch):
    """`tidings worker`'s way: refresh_source_async per source, the store work on asyncio.to_thread (which copies
    the context), one Shared with a budget. Bodies are counted from their read until they are stored; the
    store's work (where a full text is fetched, on an event loop of its own) runs without the budget."""
    import asyncio

    from tidings.config import load
    from tidings.fetch import HostLimits, make_client
    from tidings.jobs import JobContext, Shared, body_budget_for, refresh_source_async
    from tidings.store import open_store

    most = 0
    give_back = http.BodyBudget.give_back

    def watched_give_back(self: http.BodyBudget, n: int) -> None:
        nonlocal most
        most = max(most, self.held)
        give_back(self, n)

    monkeypatch.setattr(http.BodyBudget, "give_back", watched_give_back)
    urls = [server.url(f"/f{n}") for n in range(FEEDS)]
    root = tmp_path / "w"
    root.mkdir()
    cfg = load(write_config(root, [{"category": "Big", "source": f"feed {n}", "url": u} for n, u in enumerate(urls)],
                            fetch={"timeout": 20, "retries": 0, "concurrency": 8, "per_host": 8,
                                   "max_bytes": MAX_BYTES}))
    seen_by_store_work: list[object] = []
    # One store connection: its work runs a piece at a time, as a worker's store thread runs it (two threads in one
    # SQLite connection's transaction at once fail: "cannot start a transaction within a transaction")
    one_at_a_time = threading.Lock()

    async def lane(fn):
        def run():
            seen_by_store_work.append(http.body_budget.get())
            with one_at_a_time:
                return fn()
        return await asyncio.to_thread(run)

    async def refresh_all(store) -> http.BodyBudget:
        ctx = JobContext(cfg)
        opts = ctx.fetch_options
        async with make_client(opts) as client:
            shared = Shared(client, HostLimits(opts.concurrency, opts.per_host), lane, budget=body_budget_for(opts))
            await asyncio.gather(*(refresh_source_async(ctx, u, store, force=True, shared=shared) for u in urls))
        assert shared.budget is not None
        await asyncio.sleep(0)  # the releases are handed to the loop
        return shared.budget

    with open_store(cfg.store_path) as store:
        store.sync_sources(cfg.feed_sources())
        budget = asyncio.run(refresh_all(store))
        stored = store.count_items()
    assert budget.limit == jobs.LARGE_BODIES * MAX_BYTES
    assert budget.held == 0 and 0 < most <= budget.limit
    assert stored == FEEDS * 15
    assert seen_by_store_work and not any(seen_by_store_work)
