"""Workers on PostgreSQL (issue 13): `tidings worker` processes on a throwaway PostgreSQL cluster.

    .venv/bin/python bench/workers.py [--feeds 1000] [--delay 0.1] [--workers 3] [--concurrency 16] [--items 2000]
                                      [--cycle] [--statements N] [--no-stories] [--floors]

1. Cycle: N feeds from a local server (another process) answering each request after `delay`, 3 workers ×
   concurrency 16 on a fresh database. Timed by the server, from the first request to the last feed answered
   (and, polled every 50 ms, until every item is stored), against the ideal ceil(N / (workers × c)) × delay.
   SPEC/issue 13 target: ≤ 1.25 × ideal.
2. Overhead per job: the same with feeds answering at once (a fresh database): jobs/s, the wall time per job
   per slot (wall × slots / N), and that minus the time each job reports for its own fetch+store (worker log);
   plus procrastinate alone: N no-op jobs deferred and run by one in-process worker × concurrency.
3. Ingest: bench/ingest.py's generated feeds through `jobs.ingest` into a SQLite file and into PostgreSQL
   (cleaning on, no posts), alternating, best of `--repeat`; the PostgreSQL database's size before and after
   (`pg_database_size`), per 1,000 items and extrapolated per million.
0. Floors (first, and alone with --floors): the CPU that procrastinate (n no-op jobs deferred and run) and
   httpx (n GETs of the bench feeds) take by themselves, against the cycle's budget on this machine's cores.
--cycle stops after the floors and the cycle; --statements N starts the cluster with pg_stat_statements and prints
the cycle's N statements that took PostgreSQL longest (lock waits included). Prints Markdown rows. Starts and stops everything itself (cluster, feed server, workers); every wait is bounded.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "bench")]

from fetch import serve  # noqa: E402
from pgcluster import Cluster, unavailable  # noqa: E402


def wait_for(cond, timeout: float, what: str, every: float = 0.05) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(every)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


class ItemCounter:
    """count(*) of items on one open connection: a new connection per poll (a forked backend each time)
    cost the machine ~30% of a core, taken from the workers being measured."""

    def __init__(self, url: str):
        import psycopg
        self.conn = psycopg.connect(url, autocommit=True)

    def __call__(self) -> int:
        import psycopg
        try:
            return int(self.conn.execute("SELECT count(*) FROM items").fetchone()[0])
        except psycopg.errors.UndefinedTable:
            return 0

    def close(self) -> None:
        self.conn.close()


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu(cluster: Cluster) -> float:
    """CPU seconds of the cluster's live processes (its postmaster and the backends it forked), with those of
    their children already gone; other clusters on the machine (a test suite's, say) are not counted."""
    clock = os.sysconf("SC_CLK_TCK")
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                f = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(d.name) == postmaster or int(f[1]) == postmaster:
                total += sum(int(x) for x in f[11:15]) / clock
    return total


def fetch_cost(cluster: Cluster, future: int, due: int = 1000, repeat: int = 50) -> dict[str, float]:
    """ms per procrastinate_fetch_job_v2 with `future` fetch jobs not yet due (deferred earlier: lower ids)
    and `due` due ones, each with a lock of its own, as `tidings worker` leaves them: priorities ordered by
    due time (worker.due_priority) against all equal (procrastinate's default)."""
    import procrastinate
    import psycopg

    from tidings.store.postgres import JobTables
    from tidings.worker import due_priority

    out = {}
    for kind in ("by due time", "equal"):
        url = cluster.create_database()
        app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=url))
        with app.open():
            app.schema_manager.apply_schema()
        tables = JobTables(url)
        tables.add_indexes()
        tables.close()
        now = time.time()
        later = now + 1800
        with psycopg.connect(url, autocommit=True) as conn:
            for n, at, tag in ((future, later, "f"), (due, now, "d")):
                prio = due_priority(datetime.fromtimestamp(at, UTC)) if kind == "by due time" else 0
                conn.execute(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, queueing_lock, args, scheduled_at, "
                    "priority) SELECT 'fetch', 'tidings:fetch_source', 'fetch:' || %s || g, 'fetch:' || %s || g, "
                    "'{}', to_timestamp(%s), %s FROM generate_series(1, %s) g", (tag, tag, at, prio, n))
            conn.execute("ANALYZE procrastinate_jobs")
            wid = conn.execute("INSERT INTO procrastinate_workers DEFAULT VALUES RETURNING id").fetchone()[0]
            t = time.perf_counter()
            for _ in range(repeat):
                conn.execute("SELECT * FROM procrastinate_fetch_job_v2(ARRAY['fetch'], %s)", (wid,))
            out[kind] = (time.perf_counter() - t) / repeat * 1000
    return out


def db_size(url: str) -> int:
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])


def cycle(cluster: Cluster, tmp: Path, args, delay: float, tag: str) -> dict:
    """One cycle of `args.feeds` feeds through the worker processes on a fresh database."""
    url = cluster.create_database()
    if args.statements:
        import psycopg
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT pg_stat_statements_reset()")
    first, last = multiprocessing.Value("d", 0.0), multiprocessing.Value("d", 0.0)
    distinct = multiprocessing.Value("i", 0)
    q = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(q, delay, first, last, distinct), daemon=True)
    server.start()
    procs: list[subprocess.Popen] = []
    logs: list[Path] = []
    try:
        port = q.get(timeout=10)
        slots = args.workers * args.concurrency
        cfg = tmp / f"{tag}.yml"
        cfg.write_text(json.dumps({
            "store": url,
            "fetch": {"concurrency": args.concurrency, "per_host": slots, "retries": 0, "timeout": 30},
            "sources": [{"category": "bench", "source": f"s{n}", "url": f"http://127.0.0.1:{port}/f/{n}"}
                        for n in range(args.feeds)],
            **({"stories": {"enabled": False}, "tags": {"enabled": False}} if args.no_stories else {}),
        }))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("TIDINGS_STORE", None)
        cpu_pg_before = postgres_cpu(cluster)
        started = time.time()
        for k in range(args.workers):
            logs.append(tmp / f"{tag}-w{k}.log")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "tidings.cli", "worker", "-c", str(cfg), "--concurrency", str(args.concurrency)],
                stdout=subprocess.DEVNULL, stderr=open(logs[-1], "wb"), env=env, cwd=tmp))
        limit = 60 + 20 * math.ceil(args.feeds / slots) * max(delay, 0.05)
        wait_for(lambda: first.value > 0 or any(p.poll() is not None for p in procs), 60, "the first request",
                 every=0.005)
        startup_cpu, pg_at_first = sum(process_cpu(p.pid) for p in procs), postgres_cpu(cluster)
        wait_for(lambda: distinct.value >= args.feeds or any(p.poll() is not None for p in procs), limit,
                 "every feed fetched")
        if distinct.value < args.feeds:
            raise RuntimeError(f"a worker exited: {[p.returncode for p in procs]}; see {logs}")
        fetched_at = last.value
        cpu_pg_start = cpu_pg_before
        counter = ItemCounter(url)
        try:
            wait_for(lambda: counter() >= 5 * args.feeds, 60, "every item stored")
        finally:
            counter.close()
        stored_at = time.time()
        worker_cpu = sum(process_cpu(p.pid) for p in procs)
        pg_now = postgres_cpu(cluster)
        pg_cpu, pg_cycle = pg_now - cpu_pg_start, pg_now - pg_at_first
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(60)
        in_job = [float(m) for log in logs for m in re.findall(r" fetch .*? in (\d+\.\d+) s; next", log.read_text())]
        return {"url": url, "fetch": fetched_at - first.value, "stored": stored_at - first.value,
                "startup": first.value - started, "in_job": in_job, "slots": slots,
                "worker_cpu": worker_cpu, "pg_cpu": pg_cpu, "startup_cpu": startup_cpu, "pg_cycle": pg_cycle}
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        server.terminate()
        server.join(10)


async def noop_queue(url: str, n: int, concurrency: int) -> tuple[float, float]:
    """procrastinate alone: defer n no-op jobs, then one worker × concurrency runs them. (defer s, run s)."""
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="bench:noop", queue="bench")
    async def noop(i: int) -> None:
        return None

    async with app.open_async():
        t = time.perf_counter()
        for i in range(n):
            await noop.defer_async(i=i)
        deferred = time.perf_counter() - t
        t = time.perf_counter()
        await asyncio.wait_for(app.run_worker_async(queues=["bench"], concurrency=concurrency, wait=False,
                                                    delete_jobs="successful"), 300)
        ran = time.perf_counter() - t
    return deferred, ran


def floors(cluster: Cluster, n: int, concurrency: int) -> dict[str, float]:
    """What 1,000 jobs cost before any feed is read, in CPU seconds: procrastinate deferring and running n
    no-op jobs (this process + the cluster), and httpx (tidings' client, `http.make_client`, and nothing else of tidings) getting n bench
    feeds from the local server with `concurrency` in flight (this process only; the server runs elsewhere)."""
    import procrastinate

    from tidings.http import make_client

    url = cluster.create_database()
    app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=url))
    with app.open():
        app.schema_manager.apply_schema()
    cpu, pg = time.process_time(), postgres_cpu(cluster)
    asyncio.run(noop_queue(url, n, concurrency))
    queue_cpu = time.process_time() - cpu + postgres_cpu(cluster) - pg

    q: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(q, 0.0), daemon=True)
    server.start()
    try:
        port = q.get(timeout=10)

        async def get_all() -> None:
            async with make_client(user_agent="tidings-bench", connections=concurrency) as client:
                slots = asyncio.Semaphore(concurrency)

                async def one(k: int) -> None:
                    async with slots:
                        (await client.get(f"http://127.0.0.1:{port}/f/{k}")).raise_for_status()

                await asyncio.gather(*(one(k) for k in range(n)))

        cpu = time.process_time()
        asyncio.run(get_all())
        http_cpu = time.process_time() - cpu
    finally:
        server.terminate()
        server.join(10)
    return {"queue": queue_cpu, "http": http_cpu}


def ingest_runs(url: str, tmp: Path, items: int, per_feed: int, repeat: int) -> dict:
    """bench/ingest.py's feeds into SQLite and PostgreSQL (a fresh store each run), alternating."""
    import random

    import psycopg
    from ingest import feed

    from tidings.config import Config
    from tidings.model import FetchResult, Source
    from tidings.pipeline import Cleaner, ingest
    from tidings.store import open_store

    rng = random.Random(7)
    bodies = [feed(rng, k * per_feed, per_feed) for k in range(items // per_feed)]
    cleaner = Cleaner(Config(sources=[]))
    sources = [Source(url=f"http://127.0.0.1/feed/{n}", category="金融", source="新浪财经", channel=f"频道{n % 5}",
                      limit=per_feed) for n in range(len(bodies))]
    rates: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
    sizes: list[tuple[int, int]] = []
    admin = url.rsplit("/", 1)[0] + "/postgres"
    for k in range(repeat):
        for kind in ("sqlite", "postgresql"):
            target = str(tmp / f"ingest-{k}.db") if kind == "sqlite" else url
            store = open_store(target)
            store.sync_sources(sources)
            before = db_size(url) if kind == "postgresql" else 0
            t = time.perf_counter()
            for src, body in zip(sources, bodies, strict=True):
                ingest(store, FetchResult(src, status=200, body=body, content_type="application/rss+xml"), cleaner)
            rates[kind].append(items / (time.perf_counter() - t))
            assert store.count_items() == items
            store.close()
            if kind == "postgresql":
                sizes.append((before, db_size(url)))
                name = url.rsplit("/", 1)[1]
                with psycopg.connect(admin, autocommit=True) as conn:  # a fresh database for the next run
                    conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
                    conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY file_copy")
    return {"rates": rates, "sizes": sizes}


def print_floors(low: dict[str, float], args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    budget = 1.25 * math.ceil(args.feeds / (args.workers * args.concurrency)) * args.delay
    total = low["queue"] + low["http"]
    print(f"| floors, CPU for {args.feeds} jobs | procrastinate alone (defer + run no-op jobs, worker + PostgreSQL) "
          f"{low['queue']:.2f} s | httpx alone ({args.feeds} GETs, {args.concurrency} in flight) {low['http']:.2f} s "
          f"| both on {cores} cores: {total / cores:.2f} s against a cycle budget of {budget:.2f} s (1.25 × ideal) |")


def print_statements(url: str, top: int) -> None:
    """The statements of the cycle's database by total execution time (pg_stat_statements): where PostgreSQL's
    time went, waits for locks included."""
    import psycopg
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT calls, total_exec_time, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) "
            "FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT %s", (top,)).fetchall()
    print("| calls | total ms | rows | statement |\n|---:|---:|---:|---|")
    for calls, ms, n, query in rows:
        print(f"| {calls} | {ms:,.0f} | {n} | `{query}` |")


def print_cycle(slow: dict, args: argparse.Namespace) -> None:
    n, slots = args.feeds, slow["slots"]
    ideal = math.ceil(n / slots) * args.delay
    print(f"| cycle: {n} feeds at {args.delay * 1000:.0f} ms, {args.workers} workers × {args.concurrency} "
          f"| ideal {ideal:.2f} s | first request → last feed answered {slow['fetch']:.2f} s = "
          f"**{slow['fetch'] / ideal:.2f} ×** | → every item stored {slow['stored']:.2f} s = "
          f"{slow['stored'] / ideal:.2f} × | worker start → first request {slow['startup']:.2f} s |")
    in_cycle = slow["worker_cpu"] - slow["startup_cpu"] + slow["pg_cycle"]
    print(f"| CPU per job, feeds answering at {args.delay * 1000:.0f} ms | workers {slow['worker_cpu'] / n * 1000:.1f} ms "
          f"({(slow['worker_cpu'] - slow['startup_cpu']) / n * 1000:.1f} ms after the first request) | PostgreSQL "
          f"{slow['pg_cpu'] / n * 1000:.1f} ms ({slow['pg_cycle'] / n * 1000:.1f} ms) | workers and PostgreSQL after the "
          f"first request, on this machine's {os.cpu_count()} cores: {in_cycle / (os.cpu_count() or 1):.2f} s |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--delay", type=float, default=0.1)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--items", type=int, default=2000, help="items for the ingest comparison")
    ap.add_argument("--per-feed", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--floors", action="store_true", help="only the CPU floors (procrastinate and httpx alone)")
    ap.add_argument("--cycle", action="store_true", help="only the floors and the cycle at `--delay` (no other phase)")
    ap.add_argument("--statements", type=int, default=0, metavar="N",
                    help="with pg_stat_statements on: the cycle's N statements that took PostgreSQL longest")
    ap.add_argument("--no-stories", action="store_true",
                    help="workers with stories and tags off (on by default, as in tidings.yml)")
    args = ap.parse_args()
    if why := unavailable():
        sys.exit(f"bench/workers.py: {why}")

    cluster = Cluster.start("-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
                            if args.statements else "")
    try:
        low = floors(cluster, args.feeds, args.concurrency)
        print_floors(low, args)
        if args.floors:
            return
        with tempfile.TemporaryDirectory(prefix="tidings-bench-") as t:
            tmp = Path(t)
            slow = cycle(cluster, tmp, args, args.delay, "slow")
            if args.statements:
                print_statements(slow["url"], args.statements)
            if args.cycle:
                print_cycle(slow, args)
                return
            size_after_cycle = db_size(slow["url"])
            fast = cycle(cluster, tmp, args, 0.0, "fast")
            deferred, ran = asyncio.run(noop_queue(fast["url"], args.feeds, args.concurrency))
            ing = ingest_runs(cluster.create_database(), tmp, args.items, args.per_feed, args.repeat)
            fetch_ms = {n: fetch_cost(cluster, n) for n in (1_000, 10_000, 100_000)}
    finally:
        cluster.stop()

    n, slots = args.feeds, slow["slots"]
    print_cycle(slow, args)
    for name, c in (("at once", fast),):
        print(f"| CPU per job, feeds answering {name} | workers {c['worker_cpu'] / n * 1000:.1f} ms | PostgreSQL "
              f"{c['pg_cpu'] / n * 1000:.1f} ms | floor on this machine ({os.cpu_count()} cores): "
              f"{(c['worker_cpu'] + c['pg_cpu']) / (os.cpu_count() or 1):.2f} s for the {n} jobs |")
    for future, ms in fetch_ms.items():
        print(f"| procrastinate_fetch_job_v2 with {future:,} jobs not yet due + 1,000 due | priority by due time "
              f"{ms['by due time']:.2f} ms | equal priorities {ms['equal']:.2f} ms |")
    mean_job = sum(fast["in_job"]) / max(len(fast["in_job"]), 1)
    per_slot = fast["stored"] * slots / n
    print(f"| feeds answering at once | {n} jobs in {fast['stored']:.2f} s = {n / fast['stored']:.0f} jobs/s "
          f"| wall per job per slot {per_slot * 1000:.1f} ms | each job's own fetch+store (log, {len(fast['in_job'])} "
          f"jobs) {mean_job * 1000:.1f} ms | overhead {1000 * (per_slot - mean_job):.1f} ms/job |")
    print(f"| procrastinate alone, no-op jobs | defer {n}: {deferred:.2f} s = {deferred / n * 1000:.2f} ms/job "
          f"| run with 1 worker × {args.concurrency}: {ran:.2f} s = {n / ran:.0f} jobs/s, "
          f"{ran / n * 1000:.2f} ms/job |")
    best = {k: max(v) for k, v in ing["rates"].items()}
    med = {k: sorted(v)[len(v) // 2] for k, v in ing["rates"].items()}
    print(f"| ingest {args.items} items (cleaning on, no posts), best of {args.repeat} | SQLite best "
          f"{best['sqlite']:,.0f}, median {med['sqlite']:,.0f} items/s | PostgreSQL best {best['postgresql']:,.0f}, "
          f"median {med['postgresql']:,.0f} items/s | PostgreSQL ÷ SQLite {best['postgresql'] / best['sqlite']:.2f} |")
    growth = [(a - b) for b, a in ing["sizes"]]
    per_k = sorted(growth)[len(growth) // 2] / args.items * 1000
    print(f"| database size | {args.items} ingest items: +{sorted(growth)[len(growth) // 2] / 2**20:.1f} MB = "
          f"{per_k / 2**20:.2f} MB per 1,000 items ≈ {per_k * 1000 / 2**30:.1f} GB per million "
          f"| after the {n}-feed cycle ({5 * n} small items + queue): {size_after_cycle / 2**20:.1f} MB |")


if __name__ == "__main__":
    main()
