"""refresh_source: one source's unit of work, called with keys as a job queue would call it; on SQLite and
PostgreSQL."""
from __future__ import annotations

import pickle
import time

import pytest
from feedserver import rss
from util import write_config

from tidings.config import load
from tidings.errors import ConfigError, TidingsError
from tidings.jobs import JobContext, refresh_source
from tidings.model import ItemState, OutcomeStatus
from tidings.store import open_store


def feed_items(n: int) -> list[dict]:
    return [{"title": f"Story {i}", "link": f"http://news.example.com/{i}", "guid": f"id-{i}",
             "pubDate": f"Mon, 14 Mar 2022 {i:02d}:00:00 GMT", "description": f"<p>Body {i}</p>"} for i in range(n)]


@pytest.fixture(params=["sqlite", "postgres"])
def setup(request, tmp_path, server):
    good = server.add("/feed", rss(feed_items(3)), etag='"v1"')
    gone = server.add("/gone", status=404)
    store = {"store": request.getfixturevalue("pg_url")} if request.param == "postgres" else {}
    cfg = load(write_config(tmp_path, [{"category": "c", "source": "good", "url": good},
                                       {"category": "c", "source": "gone", "url": gone,
                                        "exclude": ["Nothing matches this"]}], **store))
    with open_store(cfg.store_path) as store:
        store.sync_sources(cfg.feed_sources())
        yield cfg, store, good, gone


def test_a_job_carries_keys_only(setup):
    cfg, store, good, _ = setup
    # What a queue stores for the job: plain strings; the worker rebuilds the rest from its configuration.
    job = pickle.loads(pickle.dumps({"source": good}))
    outcome = refresh_source(cfg, job["source"], store)
    assert outcome.status is OutcomeStatus.NEW and outcome.new == 3
    assert store.count_items(ItemState.PUBLISHED) == 3


def test_not_due_is_not_fetched_unless_forced(setup, server):
    cfg, store, good, _ = setup
    ctx = JobContext(cfg)
    assert refresh_source(ctx, good, store).status is OutcomeStatus.NEW
    asked = len(server.requests)
    assert refresh_source(ctx, good, store).status is OutcomeStatus.WAITING
    assert len(server.requests) == asked
    # Forced: fetched again, conditionally; the server's ETag gives a 304.
    assert refresh_source(ctx, good, store, force=True).status is OutcomeStatus.NOT_MODIFIED
    assert server.requests[-1][1].get("If-None-Match") == '"v1"'


def test_a_failing_source_is_an_outcome_then_backoff(setup):
    cfg, store, _, gone = setup
    ctx = JobContext(cfg)
    now = time.time()
    failed = refresh_source(ctx, gone, store, now=now)
    assert failed.status is OutcomeStatus.FAILED and "404" in failed.reason
    later = refresh_source(ctx, gone, store, now=now + 1)
    assert later.status is OutcomeStatus.BACKOFF and "1 in a row" in later.reason


def test_an_unknown_key_is_a_config_error(setup):
    cfg, store, _, _ = setup
    with pytest.raises(ConfigError) as caught:
        refresh_source(cfg, "http://127.0.0.1:1/not-configured", store)
    assert isinstance(caught.value, TidingsError)


def test_statuses_print_as_before():
    # The summary and `sources check` print these; the store and logs hold them as strings.
    assert f"{OutcomeStatus.NOT_MODIFIED:12}|" == "not-modified|"
    assert OutcomeStatus.BACKOFF == "backoff" and ItemState.FILTERED == "filtered"


def test_every_outcome_says_when_the_source_is_due_again_as_stored(setup):
    """A worker reschedules a source from its outcome's next_fetch, without reading the store again: it must
    be what was stored, whatever the outcome."""
    cfg, store, good, gone = setup
    ctx = JobContext(cfg)
    now = time.time()

    def status(key: str, at: float, force: bool = False) -> OutcomeStatus:
        outcome = refresh_source(ctx, key, store, now=at, force=force)
        assert outcome.next_fetch is not None and outcome.next_fetch > now
        assert outcome.next_fetch == store.next_fetch(key)
        return outcome.status

    assert [status(good, now), status(good, now + 1), status(good, now + 2, force=True),
            status(gone, now), status(gone, now + 1)] == [
        OutcomeStatus.NEW, OutcomeStatus.WAITING, OutcomeStatus.NOT_MODIFIED, OutcomeStatus.FAILED,
        OutcomeStatus.BACKOFF]
