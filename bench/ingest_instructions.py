"""Stories and tags' cost in instructions, not seconds: bench/ingest.py's workload under callgrind.

    .venv/bin/python bench/ingest_instructions.py [--items 1000] [--per-feed 50] [--together N]
                                                 [--text sina|varied] [--no-posts] [--parts]

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

`--parts` also says where the added instructions go, by removal: a process records what each step gave
(uncounted), and one more counted run per step ingests with that step's results replayed instead of computed.
The step's cost is `on` less that run: describing (`StoryStage.describe_many`), and within it the keywords
(`keywords_many`) and the fingerprints (`fingerprint_bytes_of`), the rest of it being the lead (the item's
plain text and `read_lead`); the story lookup and assignment (`StoryStage.assign`); what is left over is
the store's work for the new columns and rows, and the glue between the steps. Four more runs.
"""
from __future__ import annotations

import argparse
import collections
import os
import pickle
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
    from tidings.stories import assign as assign_module
    from tidings.stories import keywords
    from tidings.stories.assign import StoryStage

    rng = random.Random(7)
    n_feeds = args.items // args.per_feed
    bodies = ([feed(rng, k * args.per_feed, args.per_feed) for k in range(n_feeds)] if args.text == "sina"
              else varied_feeds(n_feeds * args.per_feed, args.per_feed))
    cfg = Config(sources=[])
    cleaner = Cleaner(cfg)
    stage = StoryStage(cfg.stories, cfg.tags) if args.child != "off" else None
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
        recorded = _record_or_replay(args, stage, assign_module)
        sources = [Source(url=f"http://127.0.0.1/feed/{n}", category="金融", source="新浪财经",
                          channel=f"频道{n % 5}", limit=args.per_feed) for n in range(n_feeds)]
        fetched = [FetchResult(src, status=200, body=body, content_type="application/rss+xml")
                   for src, body in zip(sources, bodies)]
        with open_store(tmp / "bench.db") as store:
            store.sync_sources(sources)
            if args.child != "record":  # (the recording run is not under callgrind)
                _instrument("on")
            for at in range(0, len(fetched), args.together):
                if args.together > 1:
                    ingest_many(store, fetched[at:at + args.together], cleaner, stories=stage)
                else:
                    ingest(store, fetched[at], cleaner, stories=stage)
            if not args.no_posts:
                build_posts(store, tmp / "blog", preset="seed", clean=True, timezone="Asia/Shanghai")
            if args.child != "record":
                _instrument("off")
            assert store.count_items() == n_feeds * args.per_feed
        if recorded is not None:
            Path(args.record).write_bytes(pickle.dumps(recorded))
    finally:
        shutil.rmtree(tmp)


PARTS = ("describe", "keywords", "fingerprints", "stories")


def _record_or_replay(args: argparse.Namespace, stage, assign_module) -> dict[str, list] | None:
    """With `--child record`: wrap the steps so that what each call returns is kept (returned, for the caller to
    write to args.record once the ingest is done). With `--child without-<part>`: that step gives, call by call,
    what the recording run's did, read from args.record, instead of computing it. Nothing otherwise."""
    if args.child == "record":
        kept: dict[str, list] = {part: [] for part in PARTS}
        describe_many, assign, keywords_many = stage.describe_many, stage.assign, assign_module._keywords_many()
        fingerprints = assign_module.fingerprint_bytes_of

        def keep(part, fn):
            def call(*a, **k):
                out = fn(*a, **k)
                kept[part].append([r.story for r in out] if part == "stories" else out)
                return out
            return call

        stage.describe_many, stage.assign = keep("describe", describe_many), keep("stories", assign)
        assign_module.fingerprint_bytes_of = keep("fingerprints", fingerprints)
        kept_keywords = keep("keywords", keywords_many)
        assign_module._keywords_many = lambda: kept_keywords
        return kept
    if args.child.startswith("without-"):
        part = args.child.removeprefix("without-")
        given = iter(pickle.loads(Path(args.record).read_bytes())[part])
        if part == "describe":
            stage.describe_many = lambda items: next(given)
        elif part == "keywords":
            replay = lambda leads, max_tags: next(given)  # noqa: E731
            assign_module._keywords_many = lambda: replay
        elif part == "fingerprints":
            assign_module.fingerprint_bytes_of = lambda leads: next(given)
        else:
            with_story = assign_module._with_story  # (what assign uses: dataclasses.replace costs five times as much)
            stage.assign = lambda store, rows, now=None: [r if s is None else with_story(r, s)
                                                          for r, s in zip(rows, next(given))]
    return None


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
    ap.add_argument("--parts", action="store_true", help="where the added instructions go (four more runs)")
    ap.add_argument("--child", choices=("off", "on", "record", *(f"without-{p}" for p in PARTS)),
                    help=argparse.SUPPRESS)
    ap.add_argument("--record", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    if not shutil.which("valgrind"):
        sys.exit("needs valgrind (Debian's valgrind: apt-get install valgrind)")
    counts = {}
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "recorded.pickle"
        own = [sys.executable, __file__, "--items", str(args.items), "--per-feed", str(args.per_feed), "--together",
               str(args.together), "--text", args.text, "--dir", args.dir, "--record", str(record)]
        own += ["--no-posts"] if args.no_posts else []
        if args.parts:
            subprocess.run(own + ["--child", "record"], check=True, capture_output=True)
        for mode in ("off", "on", *(f"without-{p}" for p in PARTS if args.parts)):
            out = Path(tmp) / f"callgrind.{mode}"
            cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
            subprocess.run(cmd + own + ["--child", mode], check=True, capture_output=True)
            counts[mode] = by_object(out)
    n = args.items
    off, on = sum(counts["off"].values()), sum(counts["on"].values())
    added = collections.Counter({k: counts["on"][k] - counts["off"][k] for k in counts["on"] | counts["off"]})
    split = ", ".join(f"{name} {v / n / 1000:,.0f}k" for name, v in added.most_common() if v / n >= 2000)
    print(f"| {n} items, {args.text} text, {args.per_feed} a feed, {args.together} feed(s) at a time, "
          f"{'no posts' if args.no_posts else 'Hexo posts'} | off {off / n / 1e6:.2f} M instructions an item "
          f"| on {on / n / 1e6:.2f} M | on ÷ off **{on / off:.3f}** | added, by where it runs: {split} |")
    if args.parts:
        cost = {p: (on - sum(counts[f"without-{p}"].values())) / n / 1000 for p in PARTS}
        lead = cost["describe"] - cost["keywords"] - cost["fingerprints"]
        rest = (on - off) / n / 1000 - cost["describe"] - cost["stories"]
        print(f"| parts, k instructions an item ({args.text}) | describing {cost['describe']:,.0f}: keywords "
              f"{cost['keywords']:,.0f}, fingerprints {cost['fingerprints']:,.0f}, the lead and the rest "
              f"{lead:,.0f} | story lookup and assignment {cost['stories']:,.0f} | the store's new columns and rows, "
              f"and the glue {rest:,.0f} |")


if __name__ == "__main__":
    main()
