"""`tidings worker`: fetch and build jobs on procrastinate, a PostgreSQL job queue (SPEC §11, issue 13).

    run_worker(config_path, concurrency=8, publish=False)    # until SIGTERM/SIGINT

Jobs live in the store's own database (procrastinate's tables beside tidings'), so there is no second server:

- `tidings:fetch_source(source_key)` (queue `fetch`): `jobs.refresh_source_async` for one source, then the
  job defers itself again at the source's next-fetch time (from the store). `queueing_lock` and `lock` are
  both `fetch:<key>`: at most one waits and at most one runs, whichever worker takes it. When new items
  arrived it defers one `build` (queueing lock `build`: at most one waits).
- `tidings:build()` (queue `publish`): `pipeline.build` — Hexo posts and the site, written on the machine of
  a `--publish` worker (only those listen on that queue); lock `build`, so two publishers never build at once.
- `tidings:maintain` (periodic, every 10 s, queue `maintain`; procrastinate defers it once per tick whatever
  the number of workers): retries the jobs of workers whose heartbeat stopped (SIGKILL, a lost machine:
  procrastinate marks them stalled but does not retry them) and defers a fetch job for every configured
  source that has none waiting or running (a source added to tidings.yml starts by itself).

A worker re-reads its configuration when the file changes (checked before each job). Jobs carry keys only.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import procrastinate
from procrastinate import exceptions as pexc
from procrastinate import jobs as pjobs

from .config import Config, load
from .errors import UsageError
from .fetch import HostLimits, make_client
from .jobs import JobContext, Shared, SourceOutcome, StoreThread, body_budget_for, ingest_many, refresh_source_async
from .model import FetchResult, OutcomeStatus
from .store import Store, is_url, open_store
from .store.postgres import HostSlots, JobTables, queue_pool

__all__ = ["BUILD_TASK", "FETCH_QUEUE", "FETCH_TASK", "MAINTAIN_QUEUE", "PUBLISH_QUEUE", "WorkerState",
           "check_store", "ensure_schema", "job_summary", "open_app", "run_worker"]

log = logging.getLogger("tidings.worker")
T = TypeVar("T")

FETCH_QUEUE, PUBLISH_QUEUE, MAINTAIN_QUEUE = "fetch", "publish", "maintain"
FETCH_TASK, BUILD_TASK, MAINTAIN_TASK = "tidings:fetch_source", "tidings:build", "tidings:maintain"
HEARTBEAT = 5.0       # seconds between a worker's heartbeats
STALLED_AFTER = 20.0  # a worker without a heartbeat for this long is dead; its jobs are retried
MAINTAIN_CRON = "* * * * * */10"  # every 10 s (croniter: seconds last), so stalled jobs restart within ~30 s

# The tasks are registered on an app without a database; make_app binds them to one (App.with_connector).
_APP = procrastinate.App(connector=procrastinate.PsycopgConnector())


# --- per_host across workers ----------------------------------------------------------------------------

class SharedHostLimits(HostLimits):
    """HostLimits whose per-host slots are shared by every worker on the database (PostgreSQL advisory locks,
    `store.postgres.HostSlots`): ten workers never send one host more than `per_host` requests at once.
    The process's own per-host semaphore is taken first, so only requests that could go now ask the server."""

    def __init__(self, concurrency: int, per_host: int, slots: HostSlots) -> None:
        super().__init__(concurrency, per_host)
        self.limit, self.slots = per_host, slots

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = urlsplit(url).netloc
        async with self.per_host[host]:
            delay = 0.02
            while (taken := await asyncio.to_thread(self.slots.try_acquire, host, self.limit)) is None:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)
            try:
                async with self.overall:
                    yield
            finally:
                await asyncio.to_thread(self.slots.release, host, taken)


class NextJobs:
    """What fetch jobs finishing together queue after them, in one round of statements: one build when any stored
    new items (and none waits), then each source's next fetch (`defer_fetches`, one statement). The feeds of a
    batch are stored at once (the store thread), so their jobs finish in the same turn of the event loop."""

    def __init__(self) -> None:
        self._waiting: list[tuple[str, float | None, bool, asyncio.Future[bool]]] = []
        self._flush: asyncio.Task[None] | None = None

    async def queue(self, app: procrastinate.App, source_key: str, when: float | None, new: bool) -> bool:
        """Queue the next fetch of `source_key` at `when`, and a build when `new`; True when the build this
        job asked for was queued (one job of the round says so)."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((source_key, when, new, done))
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._run(app))
        return await done

    async def _run(self, app: procrastinate.App) -> None:
        await asyncio.sleep(0)  # the other jobs of the batch resume in this turn and join the round
        while self._waiting:
            round_, self._waiting = self._waiting, []
            try:
                # The build first: once the next fetch is queued, a job's work is all done (see retry_stalled).
                built = any(new for _, _, new, _ in round_) and await defer_build(app)
                await defer_fetches(app, [(key, when) for key, when, _, _ in round_])
            except Exception as e:  # noqa: BLE001 - each job of the round fails with it (maintain requeues them)
                for *_, done in round_:
                    if not done.done():
                        done.set_exception(e)
                continue
            reporter = next((done for _, _, new, done in round_ if new), None)
            for *_, done in round_:
                if not done.done():
                    done.set_result(built and done is reporter)


# --- the worker's state, shared by the jobs of one process -----------------------------------------------

class ReadThread:
    """One thread and store connection for what a fetch job reads before its fetch (is it due, its validators).
    Kept off the ingest thread, where those reads would wait behind a batch being stored, and the fetch with them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read")

    async def __call__(self, fn: Callable[[], T]) -> T:
        return await asyncio.wrap_future(self._pool.submit(fn))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.store.close()


@dataclass
class WorkerState:
    """What a worker keeps between jobs: the configuration (re-read when its file changes), the compiled
    JobContext, one HTTP client and host limits, the one thread and store connection the fetch jobs store
    through (`lane`: feeds fetched together are stored together, as in `tidings run`), and a pool of store
    connections for the rest (builds, configuration changes)."""

    config_path: Path
    cfg: Config
    ctx: JobContext
    concurrency: int
    shared: Shared | None = None
    mtime: float = 0.0
    _pool: asyncio.Queue[Store] | None = None
    _all: list[Store] = field(default_factory=list)
    slots: HostSlots | None = None
    jobs: JobTables | None = None
    lane: StoreThread | None = None
    lane_store: Store | None = None
    reader: ReadThread | None = None
    next_jobs: NextJobs = field(default_factory=NextJobs)

    @classmethod
    def load(cls, config_path: str | Path, concurrency: int) -> WorkerState:
        path = Path(config_path)
        cfg = load(path)
        return cls(path, cfg, JobContext(cfg), concurrency, mtime=_mtime(path))

    async def start(self) -> None:
        opts = self.ctx.fetch_options
        self.slots = await asyncio.to_thread(HostSlots, str(self.cfg.store_path))
        self.jobs = await asyncio.to_thread(JobTables, str(self.cfg.store_path))
        await asyncio.to_thread(self.jobs.add_indexes)  # procrastinate's tables exist (ensure_schema)
        limits = SharedHostLimits(max(opts.concurrency, self.concurrency), opts.per_host, self.slots)
        self.lane_store = await asyncio.to_thread(open_store, self.cfg.store_path)
        self.lane = StoreThread(2 * max(opts.concurrency, self.concurrency), self._store_many)
        self.reader = ReadThread(await asyncio.to_thread(open_store, self.cfg.store_path))
        self.shared = Shared(make_client(opts), limits, lane=self.reader, ingest=self.lane.ingest,
                             budget=body_budget_for(opts))
        self._pool = asyncio.Queue()
        async with self.store() as store:
            await asyncio.to_thread(_sync_sources, store, self.cfg)
        if self.cfg.tags.enabled:
            await asyncio.to_thread(_load_keywords)

    def _store_many(self, results: list[FetchResult]) -> list[SourceOutcome]:
        """The fetched feeds waiting for the lane, stored together (on the lane's thread)."""
        assert self.lane_store is not None
        ctx = self.ctx  # read once: a reload may replace it meanwhile
        full_text = ctx.full_text if any(r.source.full_text for r in results) else None
        return ingest_many(self.lane_store, results, ctx.cleaner, schedule=ctx.schedule, full_text=full_text,
                           stories=ctx.stories)

    async def stop(self) -> None:
        if self.shared is not None:
            await self.shared.client.aclose()
        if self.lane is not None:
            await asyncio.to_thread(self.lane.shutdown)
        if self.lane_store is not None:
            self.lane_store.close()
        if self.reader is not None:
            await asyncio.to_thread(self.reader.close)
        for s in self._all:
            s.close()
        if self.slots is not None:
            self.slots.close()
        if self.jobs is not None:
            self.jobs.close()

    @asynccontextmanager
    async def store(self) -> AsyncIterator[Store]:
        assert self._pool is not None
        if self._pool.empty() and len(self._all) < self.concurrency + 1:
            s = await asyncio.to_thread(open_store, self.cfg.store_path)
            self._all.append(s)
            self._pool.put_nowait(s)
        s = await self._pool.get()
        try:
            yield s
        finally:
            self._pool.put_nowait(s)

    async def reload_if_changed(self) -> None:
        """Re-read tidings.yml when its file changed: new sources, rules and filters reach the next job."""
        mtime = _mtime(self.config_path)
        if mtime == self.mtime:
            return
        try:
            cfg = load(self.config_path)
        except Exception as e:  # noqa: BLE001 - a broken edit must not stop the worker
            log.error("configuration %s not reloaded: %s", self.config_path, e)
            self.mtime = mtime
            return
        self.cfg, self.ctx, self.mtime = cfg, JobContext(cfg), mtime
        async with self.store() as store:
            await asyncio.to_thread(_sync_sources, store, cfg)
        log.info("configuration reloaded: %d sources", len(self.ctx.sources))


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def _load_keywords() -> None:
    """Load the keyword scorer and rjieba's dictionary before the first job, not inside it (every job of the
    worker's first batch would wait for it)."""
    from .stories.keywords import keywords

    keywords("预热", "预热文本")


def _sync_sources(store: Store, cfg: Config) -> None:
    from .pipeline import apply_filter_changes

    store.sync_sources(cfg.feed_sources())
    apply_filter_changes(store, cfg.feed_sources())


_STATE: WorkerState | None = None


def _state() -> WorkerState:
    if _STATE is None:
        raise RuntimeError("tidings worker tasks run only inside run_worker")
    return _STATE


# --- deferring ------------------------------------------------------------------------------------------

_PRIORITY_EPOCH = 1_577_836_800  # 2020-01-01 UTC: priorities stay inside int4 until 2088


def due_priority(at: datetime) -> int:
    """The earlier a fetch is due, the higher its priority: procrastinate walks waiting jobs by (priority, id),
    so the first job it meets is due instead of walking past every job due later (docs/scaling.md)."""
    return -int(at.timestamp() - _PRIORITY_EPOCH)


def fetch_job(source_key: str, when: float | None) -> pjobs.Job:
    """The fetch job of `source_key` at `when` (now if past or None), with its lock and priority."""
    now = time.time()
    due = datetime.fromtimestamp(when or now, UTC)  # the most overdue first
    lock = f"fetch:{source_key}"
    return pjobs.Job(queue=FETCH_QUEUE, task_name=FETCH_TASK, lock=lock, queueing_lock=lock,
                     scheduled_at=max(due, datetime.fromtimestamp(now, UTC)), priority=due_priority(due),
                     task_kwargs={"source_key": source_key})


async def defer_fetch(app: procrastinate.App, source_key: str, when: float | None) -> bool:
    """Queue a fetch of `source_key` at `when` (now if past or None); False when one is already waiting."""
    try:
        await app.job_manager.defer_job_async(fetch_job(source_key, when))
    except pexc.AlreadyEnqueued:
        return False
    return True


DEFER_BATCH = 500


async def defer_fetches(app: procrastinate.App, due: Sequence[tuple[str, float | None]]) -> int:
    """Queue the fetches of many sources, `DEFER_BATCH` to a statement; returns how many were queued. A
    batch meeting a job already waiting (another worker got there first) is queued one job at a time."""
    n = 0
    for start in range(0, len(due), DEFER_BATCH):
        chunk = due[start:start + DEFER_BATCH]
        try:
            await app.job_manager.batch_defer_jobs_async([fetch_job(key, when) for key, when in chunk])
            n += len(chunk)
        except pexc.AlreadyEnqueued:
            for key, when in chunk:
                n += await defer_fetch(app, key, when)
    return n


# A build waiting to start (procrastinate's partial unique index on queueing_lock answers it).
_BUILD_WAITING = "SELECT 1 FROM procrastinate_jobs WHERE queueing_lock = 'build' AND status = 'todo' LIMIT 1"


async def defer_build(app: procrastinate.App) -> bool:
    """Queue a build unless one is waiting; False when one was. A build waiting now starts after this job's
    items are committed, so it publishes them: asking first spares the failed insert (an error in the
    server's log, a rolled-back statement) that most fetch jobs met while builds ran."""
    if await app.connector.execute_query_all_async(_BUILD_WAITING):
        return False
    try:
        await app.configure_task(BUILD_TASK, queue=PUBLISH_QUEUE, lock="build", queueing_lock="build").defer_async()
    except pexc.AlreadyEnqueued:
        return False
    return True


# --- tasks ----------------------------------------------------------------------------------------------

@_APP.task(name=FETCH_TASK, queue=FETCH_QUEUE, pass_context=True)
async def fetch_source(context: procrastinate.JobContext, source_key: str) -> str:
    st = _state()
    await st.reload_if_changed()
    app = context.app
    assert app is not None and st.shared is not None
    if source_key not in st.ctx.sources:
        log.info("fetch %s: no longer configured, not rescheduled", source_key)
        return "gone"
    started = time.monotonic()
    reader = st.reader
    assert reader is not None
    # The reader's store for the reads before the fetch; the fetched feed is stored by the ingest thread.
    outcome = await refresh_source_async(st.ctx, source_key, reader.store, shared=st.shared)
    when = outcome.next_fetch  # what ingest stored (None: never fetched, so due now)
    not_due = outcome.status in (OutcomeStatus.WAITING, OutcomeStatus.BACKOFF)
    # A job that ran early (clocks apart) is not a fetch; never reschedule it at once, or it would spin.
    built = await st.next_jobs.queue(app, source_key, max(when or 0.0, time.time() + 1) if not_due else when,
                                     outcome.new > 0)
    next_at = datetime.fromtimestamp(when, UTC).strftime("%H:%M:%S") if when else "now"
    detail = f" ({outcome.reason})" if outcome.reason else ""
    detail += "".join(f"; note: {n}" for n in outcome.notes)  # what parsing recovered, what full text skipped
    log.info("fetch %s: %s, %d new, %d changed%s in %.2f s; next %s%s", outcome.source.label, outcome.status.value,
             outcome.new, outcome.changed, detail, time.monotonic() - started, next_at,
             "; build queued" if built else "")
    return outcome.status.value


@_APP.task(name=BUILD_TASK, queue=PUBLISH_QUEUE, pass_context=True)
async def build(context: procrastinate.JobContext) -> str:
    from .pipeline import build as build_all

    st = _state()
    await st.reload_if_changed()
    started = time.monotonic()
    async with st.store() as store:
        hexo, site = await asyncio.to_thread(build_all, st.cfg, store)
    parts = [f"{name} {r.written} written, {r.unchanged} unchanged, {r.deleted} deleted"
             for name, r in (("hexo", hexo), ("site", site)) if r is not None]
    line = "; ".join(parts) or "nothing to build (no hexo or site_dir configured)"
    log.info("build: %s in %.2f s", line, time.monotonic() - started)
    return "built"


async def retry_stalled(app: procrastinate.App) -> int:
    """Put the jobs of dead workers (no heartbeat for STALLED_AFTER s) back in their queues."""
    n = 0
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER):
        try:
            await app.job_manager.retry_job(job)
        except pexc.ConnectorException:
            # Its queueing lock is taken: the job had queued its own successor (a fetch's last step, after its
            # build), so its work was done when its worker died; only its status was lost.
            await app.job_manager.finish_job(job, status=pjobs.Status.SUCCEEDED, delete_job=True)
            log.info("stalled job %s had finished its work (its successor is queued)", job.call_string)
            continue
        n += 1
        log.info("retried stalled job %s", job.call_string)
    return n


async def start_missing(app: procrastinate.App, st: WorkerState) -> int:
    """Defer a fetch for every configured source that has none waiting or running."""
    assert st.jobs is not None
    rows = await asyncio.to_thread(st.jobs.without_job, "fetch:")
    n = await defer_fetches(app, [(key, when) for key, when in rows if key in st.ctx.sources])
    if n:
        log.info("queued %d sources that had no fetch job", n)
    return n


@_APP.periodic(cron=MAINTAIN_CRON, periodic_id="maintain")
@_APP.task(name=MAINTAIN_TASK, queue=MAINTAIN_QUEUE, queueing_lock="maintain", pass_context=True)
async def maintain(context: procrastinate.JobContext, timestamp: int) -> str:
    st = _state()
    await st.reload_if_changed()
    app = context.app
    assert app is not None
    retried = await retry_stalled(app)
    started = await start_missing(app, st)  # one anti-join in the store (its cost: docs/scaling.md)
    return f"retried {retried}, started {started}"


# --- the app --------------------------------------------------------------------------------------------

@asynccontextmanager
async def open_app(url: str, pool_size: int = 4) -> AsyncIterator[procrastinate.App]:
    """tidings' procrastinate App on the store's database, open; `pool_size` connections at most (a worker
    needs one per running job to defer the next, plus one to fetch jobs)."""
    connector = procrastinate.PsycopgConnector(conninfo=url, kwargs={"application_name": "tidings worker"},
                                               pool_factory=queue_pool, min_size=1, max_size=pool_size)
    with _APP.replace_connector(connector) as app:
        async with app.open_async():
            yield app


async def ensure_schema(app: procrastinate.App) -> None:
    """Apply procrastinate's schema once: workers starting at once on a new database race for it, so one
    creates it and the others, refused, find it there."""
    if await app.job_manager.check_connection_async():
        return
    try:
        await app.schema_manager.apply_schema_async()
    except pexc.ConnectorException:
        if not await app.job_manager.check_connection_async():
            raise


def check_store(cfg: Config) -> str:
    """The store's PostgreSQL URL; a UsageError (exit 2) for a SQLite store."""
    path = cfg.store_path
    if not is_url(path):
        raise UsageError(f"worker: the store is the SQLite file {path}; workers share a PostgreSQL database "
                         "(store: postgresql://… in tidings.yml, or TIDINGS_STORE); "
                         "on SQLite use `tidings run --every`")
    return str(path)


async def run_worker_async(config_path: str | Path, *, concurrency: int = 8, publish: bool = False,
                           name: str | None = None) -> None:
    global _STATE
    st = WorkerState.load(config_path, concurrency)
    url = check_store(st.cfg)
    queues = [FETCH_QUEUE, MAINTAIN_QUEUE] + ([PUBLISH_QUEUE] if publish else [])
    async with open_app(url, pool_size=concurrency + 2) as app:
        await ensure_schema(app)
        _STATE = st
        try:
            await st.start()
            log.info("worker %s: %d sources, queues %s, concurrency %d", name or os.getpid(), len(st.ctx.sources),
                     ",".join(queues), concurrency)
            await start_missing(app, st)
            # No graceful timeout: SIGTERM lets the running jobs finish (a fetch is bounded by its timeouts).
            await app.run_worker_async(queues=queues, concurrency=concurrency, delete_jobs="successful",
                                       name=name or f"tidings-{os.getpid()}", update_heartbeat_interval=HEARTBEAT,
                                       stalled_worker_timeout=STALLED_AFTER)
        finally:
            await st.stop()
            _STATE = None
    log.info("worker stopped")


def run_worker(config_path: str | Path, *, concurrency: int = 8, publish: bool = False) -> None:
    """Run a worker until SIGTERM or SIGINT, which let the running jobs finish first."""
    asyncio.run(run_worker_async(config_path, concurrency=concurrency, publish=publish))


# --- sources check: the queue's figures -----------------------------------------------------------------

async def _summary(url: str) -> dict[str, Any] | None:
    async with open_app(url) as app:
        if not await app.job_manager.check_connection_async():
            return None
        out: dict[str, Any] = {"queued": 0, "running": 0, "failed": 0, "stalled": 0, "queues": {}}
        for q in await app.job_manager.list_queues_async():
            out["queues"][q["name"]] = {k: q[k] for k in ("todo", "doing", "succeeded", "failed")}
            out["queued"] += q["todo"]
            out["running"] += q["doing"]
            out["failed"] += q["failed"]
        out["stalled"] = len(list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER)))
        return out


def job_summary(cfg: Config) -> dict[str, Any] | None:
    """The worker queue's figures (queued, running, failed, stalled; per queue), or None where workers were
    never used (SQLite, or no procrastinate schema in the database)."""
    path = cfg.store_path
    if not is_url(path):
        return None
    return asyncio.run(_summary(str(path)))
