"""One unit of work per source: `refresh_source` fetches one feed, then parses, cleans, filters and stores it.

    outcome = refresh_source(cfg, source_key, store)          # a job queue's call: keys in, outcome out
    ctx = JobContext(cfg)                                      # what is compiled from the config, kept
    outcome = refresh_source(ctx, source_key, store)           # between jobs of one worker

A job carries keys (the source's feed URL), never compiled objects: everything compiled — cleaning rules,
filters, the schedule policy — is rebuilt from the configuration by JobContext, so any process that has the
configuration can run any job. `refresh_source_async` is the same job for callers that run many at once on
one event loop (pipeline.fetch): they share a `Shared` (HTTP client, host limits, and the one thread that
touches the store). A source's failure is an outcome, never an exception.
"""
from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol, TypeVar

import httpx

from .clean import RuleSet, clean_content, clean_text, load_rules, pick_cover
from .config import Config
from .errors import ConfigError, ParseError
from .fetch import FetchOptions, HostLimits, fetch_one, make_client
from .http import BodyBudget, body_budget
from .model import Entry, FetchResult, ItemState, OutcomeStatus, Source
from .parse import ParsedFeed, parse_feed
from .schedule import Policy, is_due, next_fetch_after_failure, next_fetch_after_success
from .store import IngestRow, Store, in_story_order
from .stories.assign import StoryStage

__all__ = ["Cleaner", "FullText", "JobContext", "Schedule", "Shared", "SourceOutcome", "StoreThread", "fetch_options",
           "ingest", "newest", "not_due", "refresh_source", "refresh_source_async"]

log = logging.getLogger("tidings")
T = TypeVar("T")


@dataclass(slots=True)
class SourceOutcome:
    source: Source
    status: OutcomeStatus
    new: int = 0
    changed: int = 0
    reason: str = ""
    filtered: int = 0
    notes: list[str] = field(default_factory=list)  # problems that did not fail the source
    next_fetch: float | None = None  # when the source is due again, as stored (None: not known here)


def fetch_options(cfg: Config) -> FetchOptions:
    f = cfg.fetch
    return FetchOptions(concurrency=f.concurrency, per_host=f.per_host, timeout=f.timeout, max_bytes=f.max_bytes,
                        max_redirects=f.max_redirects, retries=f.retries, user_agent=f.user_agent)


# --- clean ------------------------------------------------------------------------------------------

class Cleaner:
    """Turns a parsed Entry into (entry with cleaned text fields, publishable HTML)."""

    def __init__(self, cfg: Config):
        self.rules: RuleSet = load_rules(cfg.rules or None)

    def __call__(self, e: Entry) -> tuple[Entry, str]:
        e.title, e.author = _clean_field(e.title), _clean_field(e.author)
        e.link, e.guid = _clean_field(e.link), _clean_field(e.guid)
        if e.tags:
            e.tags = [clean_text(t) for t in e.tags]
        # `content` stays as the feed gave it (hexo `clean: false` publishes it verbatim), less the
        # characters no XML/HTML file may hold; the published HTML also gets mojibake repair.
        e.content, html = clean_content(e.content, e.base or e.link, self.rules)  # html: mojibake repaired too
        # The feed's own cover (enclosure, media, JSON image) comes first; then the images of the cleaned
        # HTML, where pick_cover skips tracking pixels, icons, QR codes and blocks the site rules remove.
        explicit = [e.cover] if e.cover and e.cover_explicit else []
        e.cover = pick_cover(html, explicit, e.base or e.link, self.rules, cleaned=True)
        return e, html


def _clean_field(text: str) -> str:
    """clean_text(text). Printable ASCII (most links and ids, an empty author) it returns as it is: nothing XML
    forbids, no mojibake (which needs U+0080..U+00FF); two C loops tell that for a fraction of its scan."""
    return text if text.isascii() and text.isprintable() else clean_text(text)


_TAGS = re.compile(r"<[^>]+>")
# The states an item is staged in, read once: ItemState.PUBLISHED costs ~1,300 instructions a read (Enum's class
# attribute lookup), twice an item.
_PUBLISHED, _FILTERED = ItemState.PUBLISHED, ItemState.FILTERED


class FullText:
    """Fetches the article page of new items from `full_text` sources and extracts the story.

    Only items not yet in the store are fetched, so a page is fetched once; with `full_text: auto`
    only items whose cleaned text is shorter than `fetch.full_text_min_chars`. Requests go through
    the SSRF guard: never to loopback/private/link-local addresses unless `fetch.allow_private`.
    """

    def __init__(self, cfg: Config, rules: RuleSet):
        self.opts, self.rules = cfg.fetch, rules
        self.concurrency = max(1, min(self.opts.concurrency, 4))

    def wanted(self, source: Source, html: str) -> bool:
        if source.full_text is True:
            return True
        return source.full_text == "auto" and len(_TAGS.sub("", html).strip()) < self.opts.full_text_min_chars

    def enrich(self, store: Store, source: Source,
               pairs: list[tuple[Entry, str]]) -> tuple[list[tuple[Entry, str, bool]], list[str]]:
        """(entry, html) → (entry, html, fulltext); notes say which articles could not be fetched."""
        known = store.known_ids(source.key, [e.id for e, _ in pairs])
        todo = [i for i, (e, html) in enumerate(pairs) if e.id not in known and e.link and self.wanted(source, html)]
        out = [(e, html, False) for e, html in pairs]
        if not todo:
            return out, []
        # Runs on the store's thread, which has no event loop of its own.
        pages = asyncio.run(self._fetch([pairs[i][0].link for i in todo]))
        notes = []
        from .clean import extract_article

        for i, page in zip(todo, pages, strict=True):
            e, _html = pairs[i]
            if isinstance(page, BaseException):
                notes.append(f"full text of {e.link}: {page}")
                continue
            article = extract_article(page, e.link, self.rules)
            if not article:
                notes.append(f"full text of {e.link}: no article found on the page")
                continue
            if not e.cover:
                e.cover = pick_cover(article, [], e.link, self.rules, cleaned=True)
            out[i] = (e, article, True)
        return out, notes

    async def _fetch(self, urls: list[str]) -> list[str | BaseException]:
        from .clean import fetch_article
        from .http import HTML_ACCEPT, Limits
        from .http import make_client as make_http_client

        sem = asyncio.Semaphore(self.concurrency)
        o = self.opts
        # The feed fetcher's limits: body cap on decoded bytes, total time, redirects (each hop checked).
        limits = Limits(timeout=o.timeout, max_bytes=o.max_bytes, max_redirects=o.max_redirects)
        async with make_http_client(user_agent=o.user_agent, accept=HTML_ACCEPT, timeout=o.timeout,
                                    connections=self.concurrency) as client:
            async def one(url: str) -> str:
                async with sem:
                    page: str = await fetch_article(client, url, allow_private=o.allow_private, limits=limits)
                    return page

            return await asyncio.gather(*(one(u) for u in urls), return_exceptions=True)


def newest(entries: list[Entry], limit: int) -> list[Entry]:
    """The newest `limit` entries; undated ones keep their feed position and count as newest."""
    far = datetime.max.replace(tzinfo=UTC)
    ranked = sorted(enumerate(entries), key=lambda p: (-(p[1].published or far).timestamp(), p[0]))
    return [e for _, e in ranked[:limit]]


# --- schedule ---------------------------------------------------------------------------------------

class Schedule:
    """Next-fetch times per source from the configured policy (see schedule.py)."""

    def __init__(self, cfg: Config | None = None, interval: float | None = None):
        f = cfg.fetch if cfg else None
        self.policy = Policy(min_interval=f.min_interval, max_interval=f.max_interval,
                             backoff_cap=max(f.backoff_cap, 600.0)) if f else Policy()
        self.interval = interval or (f.interval if f else 1800.0)

    def after_success(self, now: float, result: FetchResult, ttl_minutes: int | None = None) -> float:
        return next_fetch_after_success(now, ttl_minutes=ttl_minutes, headers=result.headers,
                                        interval=self.interval, policy=self.policy)

    def after_failure(self, now: float, errors_in_a_row: int, retry_after: float | None) -> float:
        return next_fetch_after_failure(now, errors_in_a_row=errors_in_a_row, retry_after=retry_after,
                                        policy=self.policy)


# --- the job ----------------------------------------------------------------------------------------

class JobContext:
    """What refresh_source needs that is compiled from the configuration; rebuilt from it, never shipped."""

    def __init__(self, cfg: Config, interval: float | None = None):
        self.cfg = cfg
        self.sources: dict[str, Source] = {s.key: s for s in cfg.feed_sources()}
        self.cleaner = Cleaner(cfg)
        self.schedule = Schedule(cfg, interval)
        self.fetch_options = fetch_options(cfg)
        self.stories = StoryStage(cfg.stories, cfg.tags)
        self._full_text: FullText | None = None

    @property
    def full_text(self) -> FullText:
        if self._full_text is None:  # only sources with `full_text` need it (and trafilatura)
            self._full_text = FullText(self.cfg, self.cleaner.rules)
        return self._full_text

    def source(self, key: str) -> Source:
        try:
            return self.sources[key]
        except KeyError:
            raise ConfigError(f"no source {key!r} in the configuration") from None


# Bodies over BodyBudget.FREE bytes held at once, read or waiting for the store, in bodies of fetch.max_bytes:
# without a bound, the large bodies of 64 fetches at once pile up while the store's thread reads one
# (the hostile corpus run held 45-90 MiB of them beside its largest parse; tests/reliability).
LARGE_BODIES = 2


def body_budget_for(opts: FetchOptions) -> BodyBudget:
    """The bound on large bodies that the refreshes of one event loop share (`Shared.budget`)."""
    return BodyBudget(LARGE_BODIES * opts.max_bytes)


class StoreLane(Protocol):
    """Runs a piece of store work somewhere off the event loop and gives back its result."""

    def __call__(self, fn: Callable[[], T], /) -> Awaitable[T]: ...


@dataclass(slots=True)
class Shared:
    """What concurrent refreshes on one event loop share.

    `lane` runs the store work (parse, clean, store) off the event loop, all on one thread for SQLite;
    `validators` are the (etag, last-modified) pairs when the caller read them up front, so that a fetch
    starts without waiting for the store's thread; `ingest`, when given, stores a fetched feed instead of
    `ingest` on the lane (`tidings run` gives one that takes the feeds waiting together: `ingest_many`);
    `budget`, when given, bounds the large bodies they hold at once, from the read until the body is stored.
    """

    client: httpx.AsyncClient
    limits: HostLimits
    lane: StoreLane
    validators: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    ingest: Callable[[FetchResult], Awaitable[SourceOutcome]] | None = None
    budget: BodyBudget | None = None


def not_due(store: Store, source: Source, due: float | None = None) -> SourceOutcome:
    """The outcome of a source that is not fetched now: waiting, or backoff when it is failing. `due`: its
    next fetch time, when the caller has read it."""
    st = store.source_state(source.key)
    due = due if due is not None else store.next_fetch(source.key)
    if not st.error_count:
        return SourceOutcome(source, OutcomeStatus.WAITING, next_fetch=due)
    when = datetime.fromtimestamp(due or 0, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return SourceOutcome(source, OutcomeStatus.BACKOFF, next_fetch=due,
                         reason=f"{st.last_error} ({st.error_count} in a row; next try {when})")


async def refresh_source_async(ctx: Config | JobContext, source_key: str, store: Store, *,
                               now: float | None = None, force: bool = False,
                               shared: Shared | None = None) -> SourceOutcome:
    """refresh_source on a running event loop; with `shared`, one of many running at once."""
    job = ctx if isinstance(ctx, JobContext) else JobContext(ctx)
    source = job.source(source_key)
    own = shared is None
    if shared is None:
        opts = job.fetch_options
        shared = Shared(make_client(opts), HostLimits(opts.concurrency, opts.per_host), lane=asyncio.to_thread)
    try:
        validators = shared.validators.get(source_key)
        if not force or validators is None:
            def prepare() -> SourceOutcome | tuple[str | None, str | None]:
                if not is_due(due := store.next_fetch(source_key), now or time.time(), force=force):
                    return not_due(store, source, due)
                st = store.source_state(source_key)
                return st.etag, st.last_modified

            ready = await shared.lane(prepare)
            if isinstance(ready, SourceOutcome):
                return ready
            validators = ready
        etag, last_modified = validators
        # The budget is this fetch's only: the store's work after it (a full text's fetch on another loop,
        # with asyncio.to_thread's copy of this context) must not see it.
        budgeted = body_budget.set(shared.budget)
        try:
            async with shared.limits.slot(source.url):
                result = await fetch_one(shared.client, source, job.fetch_options, etag=etag,
                                         last_modified=last_modified)
        finally:
            body_budget.reset(budgeted)
        try:
            if shared.ingest is not None:
                return await shared.ingest(result)
            full_text = job.full_text if source.full_text else None
            return await shared.lane(lambda: ingest(store, result, job.cleaner, now=now, schedule=job.schedule,
                                                    full_text=full_text, stories=job.stories))
        finally:
            if shared.budget is not None:
                shared.budget.release(result.body)  # stored (or failed): its reservation goes back
    finally:
        if own:
            await shared.client.aclose()


def refresh_source(ctx: Config | JobContext, source_key: str, store: Store, *, now: float | None = None,
                   force: bool = False) -> SourceOutcome:
    """Fetch one source and store what is new: the job a queue runs, one per due source.

    Not due (and not `force`): nothing is fetched and the outcome says waiting or backoff. The source must
    be in the store (`store.sync_sources`), as it is once a run or the scheduler has seen the configuration.
    """
    return asyncio.run(refresh_source_async(ctx, source_key, store, now=now, force=force))


# --- parse → clean → filter → store ---------------------------------------------------------------------

def ingest(store: Store, result: FetchResult, clean: Callable[[Entry], tuple[Entry, str]],
           now: float | None = None, schedule: Schedule | None = None,
           full_text: FullText | None = None, stories: StoryStage | None = None) -> SourceOutcome:
    """parse → clean → store for one fetched source. Never raises for a bad feed."""
    return ingest_many(store, [result], clean, now, schedule, full_text, stories)[0]


# Most feeds give a few new items a fetch, and what stories cost is mostly per call (a lookup is a few dozen
# numpy calls, and describing warms the CPU's caches for its batch): feeds waiting together share them.
MAX_BATCH = 32


def ingest_many(store: Store, results: Sequence[FetchResult], clean: Callable[[Entry], tuple[Entry, str]],
                now: float | None = None, schedule: Schedule | None = None,
                full_text: FullText | None = None, stories: StoryStage | None = None) -> list[SourceOutcome]:
    """`ingest` of each result, in order. With stories on, the new items of all of them are described in one
    call and given their stories in one lookup, in one transaction; should that transaction fail, each feed
    is stored on its own, so one feed's failure is its own, as with `ingest`."""
    now = now or time.time()
    schedule = schedule or Schedule()
    outcomes: list[SourceOutcome | None] = [None] * len(results)
    staged: list[tuple[int, _Staged]] = []
    for k, result in enumerate(results):
        ready = _stage(store, result, clean, now, schedule, full_text, stories)
        if isinstance(ready, SourceOutcome):
            outcomes[k] = ready
        else:
            staged.append((k, ready))
    if stories is not None and stories.enabled and staged:
        _describe(store, stories, staged, outcomes, now, schedule)
        staged = [(k, st) for k, st in staged if outcomes[k] is None]
    if len(staged) > 1 and stories is not None and stories.enabled:
        try:
            for (k, _), out in zip(staged, _commit(store, [st for _, st in staged], now, schedule, stories)):
                outcomes[k] = out
            staged = []
        except Exception:  # noqa: BLE001 - rolled back; each feed again on its own, where a failure is its own
            log.debug("storing %d feeds together failed; storing them one by one", len(staged), exc_info=True)
    for k, st in staged:
        out = _guarded(store, st.result, now, schedule, partial(_commit, store, [st], now, schedule, stories))
        outcomes[k] = out[0] if isinstance(out, list) else out  # its outcome, or its failure
    done = [o for o in outcomes if o is not None]
    assert len(done) == len(results)  # every feed has its outcome
    return done


class StoreThread:
    """The one thread that touches the store while fetches run, with a bound on the bodies waiting for it.
    Fetched feeds (`ingest`) that wait for it together are stored together (`store_many`, up to MAX_BATCH):
    `tidings run` and each `tidings worker` process store through one."""

    def __init__(self, backlog: int, store_many: Callable[[list[FetchResult]], list[SourceOutcome]]):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")
        # Bodies waiting for this thread hold memory: at most `backlog` of them at once.
        self._backlog = backlog
        self._slots: asyncio.Semaphore | None = None  # made on the event loop that uses it
        self._store_many = store_many
        self._waiting: list[tuple[FetchResult, Future[SourceOutcome]]] = []
        self._lock = threading.Lock()

    def _slot(self) -> asyncio.Semaphore:
        # Taken and given back on the event loop, so waiting fetches sleep until a slot is free: polling for
        # one, a thousand waiting fetches kept the loop busy and starved the store's thread (docs/benchmarks.md).
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._backlog)
        return self._slots

    async def __call__(self, fn: Callable[[], T]) -> T:
        async with self._slot():
            return await asyncio.wrap_future(self._pool.submit(fn))

    async def ingest(self, result: FetchResult) -> SourceOutcome:
        async with self._slot():
            done: Future[SourceOutcome] = Future()
            with self._lock:
                self._waiting.append((result, done))
            self._pool.submit(self._drain)  # one drain a feed; a drain finding nothing waiting has nothing to do
            return await asyncio.wrap_future(done)

    def _drain(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
        if not batch:
            return
        try:
            outcomes = self._store_many([r for r, _ in batch])
        except BaseException as e:  # noqa: BLE001 - handed to every waiting fetch, which raises it
            for _, done in batch:
                if done.set_running_or_notify_cancel():
                    done.set_exception(e)
            return
        for (_, done), outcome in zip(batch, outcomes, strict=True):
            if done.set_running_or_notify_cancel():  # False: the fetch was cancelled (an interrupted run)
                done.set_result(outcome)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


@dataclass(slots=True)
class _Staged:
    """A parsed feed's items, cleaned and filtered, ready to be described (new ones) and stored."""

    result: FetchResult
    feed: ParsedFeed
    rows: list[IngestRow]
    fresh: set[str]  # ids of the items not in the store yet: they get keywords and a fingerprint
    notes: list[str]
    known: bool  # `fresh` was asked of the store (stories on)


def _failed(store: Store, result: FetchResult, now: float, schedule: Schedule, reason: str) -> SourceOutcome:
    count = store.record_failure(result.source.key, reason, now)
    when = schedule.after_failure(now, count, result.retry_after)
    store.set_next_fetch(result.source.key, when)
    return SourceOutcome(result.source, OutcomeStatus.FAILED, reason=reason, next_fetch=when)


def _guarded(store: Store, result: FetchResult, now: float, schedule: Schedule,
             step: Callable[[], Any]) -> Any:
    """`step()`, or the feed's failure if it raises: a bug on one feed must not stop the others."""
    try:
        return step()
    except RecursionError:
        return _failed(store, result, now, schedule, "nested too deeply to clean")
    except Exception as e:  # noqa: BLE001 - any error is this feed's, reported as a bug
        log.exception("%s: unexpected error while reading the feed", result.source.label)
        return _failed(store, result, now, schedule, f"bug while reading the feed: {type(e).__name__}: {e}")


def _stage(store: Store, result: FetchResult, clean: Callable[[Entry], tuple[Entry, str]], now: float,
           schedule: Schedule, full_text: FullText | None, stories: StoryStage | None) -> SourceOutcome | _Staged:
    source = result.source
    if not result.ok:
        return _failed(store, result, now, schedule, result.error or "failed")
    if result.not_modified:
        when = schedule.after_success(now, result)
        store.record_success(source.key, result.etag, result.last_modified, now=now, next_fetch=when)
        return SourceOutcome(source, OutcomeStatus.NOT_MODIFIED, next_fetch=when)
    try:
        # No cover guessed from an item's raw content: the cleaner picks one from the cleaned HTML (pick_cover).
        feed = parse_feed(result.body, source, content_type=result.content_type, url=result.final_url,
                          content_cover=False)
    except ParseError as e:
        return _failed(store, result, now, schedule, str(e))
    except RecursionError:
        return _failed(store, result, now, schedule, "nested too deeply to parse")
    staged: SourceOutcome | _Staged = _guarded(store, result, now, schedule,
                                               lambda: _clean_feed(store, result, feed, clean, full_text, stories))
    return staged


def _clean_feed(store: Store, result: FetchResult, feed: ParsedFeed, clean: Callable[[Entry], tuple[Entry, str]],
                full_text: FullText | None, stories: StoryStage | None) -> _Staged:
    source = result.source
    pairs = [clean(e) for e in newest(feed.entries, source.limit)]
    rows, notes = (full_text.enrich(store, source, pairs) if full_text and source.full_text
                   else ([(e, html, False) for e, html in pairs], []))
    flt = source.item_filter
    staged = []
    for e, html, fulltext in rows:
        ok = flt is None or flt.accepts(title=e.title, content=html, author=e.author, link=e.link,
                                        categories=source.categories + e.tags)
        staged.append(IngestRow(e, html, _PUBLISHED if ok else _FILTERED, fulltext))
    # Keywords and fingerprints are made once, when an item is first seen (they are outside its hash).
    on = stories is not None and stories.enabled
    known = store.known_ids(source.key, [r.entry.id for r in staged]) if on else set()
    fresh = {r.entry.id for r in staged}.difference(known) if on else set()
    return _Staged(result, feed, staged, fresh, feed.notes + notes, on)  # recovered breakage first, then full text


def _describe(store: Store, stories: StoryStage, staged: list[tuple[int, _Staged]],
              outcomes: list[SourceOutcome | None], now: float, schedule: Schedule) -> None:
    """Keywords and fingerprints of every feed's new items, in one call; a feed whose items cannot be
    described fails alone."""
    def fill(group: list[_Staged]) -> None:
        new = [(r.entry, r.html) for st in group for r in st.rows if r.entry.id in st.fresh]
        described = iter(stories.describe_many(new))
        for st in group:
            st.rows = [IngestRow(r.entry, r.html, r.state, r.fulltext, *next(described)) if r.entry.id in st.fresh
                       else r for r in st.rows]

    try:
        fill([st for _, st in staged])
    except Exception:  # noqa: BLE001 - which feed's item it was is found by describing each feed alone
        for k, st in staged:
            outcomes[k] = _guarded(store, st.result, now, schedule, partial(fill, [st]))


def _commit(store: Store, group: list[_Staged], now: float, schedule: Schedule,
            stories: StoryStage | None) -> list[SourceOutcome]:
    """Store the feeds of `group` in one transaction: their items, the new ones' stories (one lookup for
    all) and the sources' states."""
    with store.transaction():
        due = [_record(store, st, now, schedule) for st in group]
        rows = [r for st in group for r in st.rows]
        grouping = stories if stories is not None and any(st.known for st in group) else None
        if grouping is not None and not store.shared_writers:
            rows = grouping.assign(store, rows, now)  # new items' stories, stored with them
        out, at = [], 0
        for st, when in zip(group, due):
            out.append(_upsert(store, st, rows[at:at + len(st.rows)], now, when))
            at += len(st.rows)
        if grouping is not None and store.shared_writers:
            _set_stories(store, group, grouping.assign(store, rows, now), now)
        return out


def _set_stories(store: Store, group: list[_Staged], placed: list[IngestRow], now: float) -> None:
    """The stories `assign` found for the new items already inserted, set feed by feed, numbered as
    upsert_entries numbers them (published time, then id): the story lock, which assign takes and other
    processes wait for, is then held for the assignment and these updates, not for the items' insert."""
    at = 0
    for st in group:
        mine = placed[at:at + len(st.rows)]
        at += len(st.rows)
        given = in_story_order((r for r in mine if r.entry.id in st.fresh), now)
        store.set_stories(st.result.source.key, [(r.entry.id, r.story) for r in given if r.story is not None])


def _record(store: Store, st: _Staged, now: float, schedule: Schedule) -> float:
    """Record the fetch as a success; returns the source's next fetch time."""
    # The source's state first: assign takes the store's story lock, held to the commit, and other
    # workers' feeds wait for it.
    r = st.result
    when = schedule.after_success(now, r, st.feed.ttl_minutes)
    store.record_success(r.source.key, r.etag, r.last_modified, st.feed.title or None, now=now,
                         next_fetch=when, note="; ".join(st.notes) or None)
    return when


def _upsert(store: Store, st: _Staged, rows: list[IngestRow], now: float, when: float) -> SourceOutcome:
    new, changed = store.upsert_entries(rows, now=now)
    return SourceOutcome(st.result.source, OutcomeStatus.NEW, new=new, changed=changed, notes=st.notes,
                         filtered=sum(r.state == _FILTERED for r in rows), next_fetch=when)
