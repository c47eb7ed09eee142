"""Fetch throughput: N feeds from a local server that answers each request after a fixed delay.

    .venv/bin/python bench/fetch.py [--feeds 1000] [--delay 0.1] [--concurrency 16]

The ideal time is ceil(feeds / concurrency) × delay; SPEC §8 asks for ≤ 1.25 × ideal. The whole
pipeline runs (fetch → parse → clean → store), the server in another process so it does not share
our event loop or GIL. A second pass answers 304 to every conditional request: no parse happens.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

FEED = ("<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel><title>f{n}</title>"
        "<link>http://127.0.0.1/</link>{items}</channel></rss>")
ITEM = ("<item><title>{title}</title><link>http://127.0.0.1/{n}/{i}</link><guid>{n}-{i}</guid>"
        "<pubDate>Mon, 23 Nov 2026 10:{i:02d}:00 GMT</pubDate><description>&lt;p&gt;{body}&lt;/p&gt;"
        "</description></item>")
# Words for distinct headlines and leads: items that differ only in a number ("Story 12-3") look alike to the
# story grouping, so every item became a near-duplicate candidate of every other, which real news is not.
WORDS = ("market policy growth bank energy trade city court election storm health school rail budget "
         "factory export price vote team museum river airport union tax port harvest festival bridge "
         "hospital mine startup police council drought rally summit satellite reform strike flood").split()


def item_xml(n: str, i: int) -> str:
    rng = random.Random(f"{n}-{i}")
    title = " ".join(rng.choice(WORDS) for _ in range(7)).capitalize()
    body = " ".join(rng.choice(WORDS) for _ in range(40)) + "."
    return ITEM.format(n=n, i=i, title=title, body=body)


def serve(port_q, delay: float, first=None, last=None, distinct=None) -> None:
    """Answers every feed after `delay`, 304 to a conditional request. bench/workers.py passes shared
    counters: the first request's time, and the time and number of distinct feeds answered."""
    seen: set[str] = set()

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                if first is not None and not first.value:
                    first.value = time.time()
                n = path.rsplit("/", 1)[-1]
                if delay:
                    await asyncio.sleep(delay)
                if b"if-none-match" in head.lower():
                    writer.write(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 0\r\n\r\n')
                else:
                    body = FEED.format(n=n, items="".join(item_xml(n, i) for i in range(5))).encode()
                    writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: "v1"\r\n'
                                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
                if distinct is not None and path not in seen:
                    seen.add(path)
                    distinct.value = len(seen)
                    last.value = time.time()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=2048)
        port_q.put(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--delay", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()

    from tidings import jobs, pipeline
    from tidings.config import Config
    from tidings.store import open_store

    q = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(q, args.delay), daemon=True)
    server.start()
    port = q.get(timeout=10)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Config.model_validate({
                "store": str(Path(tmp) / "b.db"),
                "fetch": {"concurrency": args.concurrency, "per_host": args.concurrency, "retries": 0},
                "sources": [{"category": "bench", "source": f"s{n}", "url": f"http://127.0.0.1:{port}/f/{n}"}
                            for n in range(args.feeds)],
            })
            ideal = math.ceil(args.feeds / args.concurrency) * args.delay
            with open_store(cfg.store_path) as store:
                t = time.perf_counter()
                outcomes = pipeline.fetch(cfg, store, force=True)
                first = time.perf_counter() - t
                assert all(o.status == "new" for o in outcomes), [o.reason for o in outcomes if o.reason][:3]
                parsed = 0
                real_parse = jobs.parse_feed

                def counting(*a, **k):
                    nonlocal parsed
                    parsed += 1
                    return real_parse(*a, **k)

                jobs.parse_feed = counting
                t = time.perf_counter()
                outcomes = pipeline.fetch(cfg, store, force=True)
                second = time.perf_counter() - t
                assert all(o.status == "not-modified" for o in outcomes)
    finally:
        server.terminate()
    print(f"| {args.feeds} feeds, {args.delay * 1000:.0f} ms each, concurrency {args.concurrency} "
          f"| ideal {ideal:.2f} s | first pass (200, parse+store) {first:.2f} s = {first / ideal:.2f}× ideal "
          f"| second pass (304) {second:.2f} s = {second / ideal:.2f}× ideal, {parsed} parses |")


if __name__ == "__main__":
    main()
