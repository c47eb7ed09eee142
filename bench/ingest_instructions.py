"""Stories and tags' cost in instructions, not seconds: bench/ingest.py's workload under callgrind.

    .venv/bin/python bench/ingest_instructions.py [--items 1000] [--per-feed 50] [--together N]
                                                 [--text sina|varied] [--no-posts]

On this 2-core VM the CPU time of one run moves by ±20% with what else runs, so the ratio of bench/ingest.py
--stories moves by ±0.2. callgrind counts the instructions executed instead: the same code on the same input
gives the same count to 0.1%, whatever the load. It counts user-space instructions only: neither cache misses
nor the kernel's work (creating and writing the posts' files, SQLite's writes) are in it. Stories add little
of either, so the ratio is, if anything, higher than in time, most of all with the posts.

Two processes run the same ingest (parse + clean + store + Hexo post, as SPEC §8 defines it; --no-posts
leaves the posts out), one with stories and tags off and one with them on. Each warms up first (jieba's
tables, one throw-away feed), then counts only the ingest. The row gives the instructions per item of each,
their ratio (SPEC §10: cost ≤ 15% of ingest, so on ÷ off ≤ 1.15) and the shared object the added instructions
run in: the Python interpreter (tidings' own code, and the str, re and dict work it asks for), numpy, SQLite,
and the two libraries the stories call (rjieba, rensa). A run of 1,000 items takes a few minutes.
"""
from __future__ import annotations

import argparse
import collections
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(args: argparse.Namespace) -> None:
    """The counted ingest, in a process under callgrind (instrumentation switched on around it only)."""
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "bench"))
    from ingest import feed, varied_feeds

    from tidings.config import Config
    from tidings.jobs import ingest_many
    from tidings.model import FetchResult, Source
    from tidings.pipeline import Cleaner, ingest
    from tidings.publish.hexo import build_posts
    from tidings.store import open_store
    from tidings.stories import keywords
    from tidings.stories.assign import StoryStage

    rng = random.Random(7)
    n_feeds = args.items // args.per_feed
    bodies = ([feed(rng, k * args.per_feed, args.per_feed) for k in range(n_feeds)] if args.text == "sina"
              else varied_feeds(n_feeds * args.per_feed, args.per_feed))
    cfg = Config(sources=[])
    cleaner = Cleaner(cfg)
    stage = StoryStage(cfg.stories, cfg.tags) if args.child == "on" else None
    keywords.keywords("预热", "预热文本")
    tmp = Path(tempfile.mkdtemp(dir=args.dir))
    try:
        # warm-up: first calls (regex compiles, rjieba's dictionary, numpy's dispatch) are not the cost per item
        warm = Source(url="http://127.0.0.1/warm", category="x", source="x", channel="x", limit=args.per_feed)
        with open_store(tmp / "warm.db") as store:
            store.sync_sources([warm])
            ingest(store, FetchResult(warm, status=200, body=feed(random.Random(99), 10**6, args.per_feed),
                                      content_type="application/rss+xml"), cleaner, stories=stage)
            if not args.no_posts:
                build_posts(store, tmp / "warm-blog", preset="seed", clean=True, timezone="Asia/Shanghai")
        sources = [Source(url=f"http://127.0.0.1/feed/{n}", category="金融", source="新浪财经",
                          channel=f"频道{n % 5}", limit=args.per_feed) for n in range(n_feeds)]
        fetched = [FetchResult(src, status=200, body=body, content_type="application/rss+xml")
                   for src, body in zip(sources, bodies)]
        with open_store(tmp / "bench.db") as store:
            store.sync_sources(sources)
            _instrument("on")
            for at in range(0, len(fetched), args.together):
                if args.together > 1:
                    ingest_many(store, fetched[at:at + args.together], cleaner, stories=stage)
                else:
                    ingest(store, fetched[at], cleaner, stories=stage)
            if not args.no_posts:
                build_posts(store, tmp / "blog", preset="seed", clean=True, timezone="Asia/Shanghai")
            _instrument("off")
            assert store.count_items() == n_feeds * args.per_feed
    finally:
        shutil.rmtree(tmp)


def _instrument(state: str) -> None:
    # callgrind_control waits until valgrind has taken the command: counting starts or stops here
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True)


def by_object(out_file: Path) -> collections.Counter[str]:
    """Instructions of a callgrind profile by shared object (the file each function is in)."""
    text = subprocess.run(["callgrind_annotate", "--threshold=100", str(out_file)], check=True,
                          capture_output=True, text=True).stdout
    counts: collections.Counter[str] = collections.Counter()
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(.*)", line)
        if m and "PROGRAM TOTALS" not in line:
            obj = re.search(r"\[([^\]]*)\]\s*$", m.group(2))
            name = obj.group(1).rsplit("/", 1)[-1] if obj else "libpython (inlined)"
            counts[_library(name)] += int(m.group(1).replace(",", ""))
    return counts


def _library(so: str) -> str:
    for prefix, name in (("libpython", "Python interpreter"), ("_multiarray", "numpy"), ("libsqlite", "SQLite"),
                         ("_sqlite3", "SQLite"), ("rjieba", "rjieba"), ("rensa", "rensa"), ("libc.", "libc")):
        if so.startswith(prefix):
            return name
    return "Python interpreter" if so == "libpython (inlined)" else so.split(".")[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--per-feed", type=int, default=50)
    ap.add_argument("--together", type=int, default=1, help="feeds stored together (jobs.ingest_many)")
    ap.add_argument("--text", choices=("sina", "varied"), default="sina")
    ap.add_argument("--no-posts", action="store_true")
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/dev/shm"))
    ap.add_argument("--child", choices=("off", "on"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    if not shutil.which("valgrind"):
        sys.exit("needs valgrind (Debian's valgrind: apt-get install valgrind)")
    counts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("off", "on"):
            out = Path(tmp) / f"callgrind.{mode}"
            cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                   sys.executable, __file__, "--child", mode, "--items", str(args.items), "--per-feed",
                   str(args.per_feed), "--together", str(args.together), "--text", args.text, "--dir", args.dir]
            subprocess.run(cmd + (["--no-posts"] if args.no_posts else []), check=True, capture_output=True)
            counts[mode] = by_object(out)
    n = args.items
    off, on = sum(counts["off"].values()), sum(counts["on"].values())
    added = collections.Counter({k: counts["on"][k] - counts["off"][k] for k in counts["on"] | counts["off"]})
    split = ", ".join(f"{name} {v / n / 1000:,.0f}k" for name, v in added.most_common() if v / n >= 2000)
    print(f"| {n} items, {args.text} text, {args.per_feed} a feed, {args.together} feed(s) at a time, "
          f"{'no posts' if args.no_posts else 'Hexo posts'} | off {off / n / 1e6:.2f} M instructions an item "
          f"| on {on / n / 1e6:.2f} M | on ÷ off **{on / off:.3f}** | added, by where it runs: {split} |")


if __name__ == "__main__":
    main()
