"""Ingest throughput: parse + clean + store (+ Hexo post writing) on generated feeds, one core.

    .venv/bin/python bench/ingest.py [--items 5000] [--per-feed 50] [--no-clean] [--no-posts] [--stories] [--dir D]
                                     [--text sina|varied] [--together N]

Prints a Markdown row for docs/benchmarks.md. Target (SPEC §8): ≥ 2,000 items/s on one core, on tmpfs
(`--dir /dev/shm`; BENCH_DIR does the same), so the disk is not measured. `--stories`: ingest with
stories and tags on against off, alternating runs in one process (SPEC §10: at most 15% more time; ingest
as SPEC §8 defines it, parse + clean + store + Hexo post: `--no-posts` leaves the posts out of both); the
row gives the ratio in wall and in CPU time, and the CPU time per item of the two stages stories add:
`StoryStage.describe_many` (keywords and fingerprints of a feed's new items, before they are stored) and the story lookup
and assignment in the feed's transaction (`StoryStage.assign` before the upsert, or `StoryStage.group` after
it in code before session 7; what it adds to the upsert and the commit is not in it).

The process pins itself to one core (the lowest it may use; `taskset -c 1` chooses which). Besides wall
time the row gives the process's CPU time: on a machine shared with other work, wall time also counts
the time the core spent on someone else, and CPU time is the steadier figure for comparing code.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tidings.config import Config  # noqa: E402
from tidings.jobs import ingest_many  # noqa: E402
from tidings.model import FetchResult, Source  # noqa: E402
from tidings.pipeline import Cleaner, ingest  # noqa: E402
from tidings.publish.hexo import build_posts  # noqa: E402
from tidings.store import open_store  # noqa: E402
from tidings.stories.assign import StoryStage  # noqa: E402

WORDS = "市场 经济 政策 公司 投资 增长 数据 银行 科技 发布 报告 会议 城市 企业 消费 出口".split()


def paragraph(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(WORDS) for _ in range(n)) + "。"


def item_html(rng: random.Random, i: int) -> str:
    """About 5 KB of Sina-like markup: paragraphs, an image, a tracking link, boilerplate to remove."""
    return markup([paragraph(rng, 60) for _ in range(11)], i)


def markup(paragraphs: list[str], i: int) -> str:
    parts = [f'<p cms-style="font-L">　　{p}</p>' for p in paragraphs]
    parts.insert(1, f'<div class="img_wrapper"><img id="0" src="https://n.sinaimg.cn/x/{i}.jpg" alt="图">'
                    f'<span class="img_descr">图 {i}</span></div>')
    parts.append(f'<p><a href="https://finance.sina.com.cn/r/{i}.shtml?utm_source=rss&amp;spm=1">相关</a></p>')
    parts.append('<!-- 文末二维码 start --><style>.appendQr_wrap{border:1px}</style><div class="clearfix appendQr_wrap">'
                 '<div class="appendQr_normal"><img src="https://n.sinaimg.cn/finance/cece9e13/20200514/343233024.png">'
                 '</div><div class="appendQr_normal_txt">海量资讯、精准解读，尽在新浪财经APP</div></div>')
    parts.append('<p class="article-editor">责任编辑：张三 </p>')
    return "\n".join(parts)


def feed(rng: random.Random, start: int, n: int) -> bytes:
    items = []
    for i in range(start, start + n):
        items.append(f"<item><title><![CDATA[新闻标题 {i}：{paragraph(rng, 6)}]]></title>"
                     f"<link>https://finance.sina.com.cn/china/2026-11-{1 + i % 28:02d}/doc-{i}.shtml</link>"
                     f"<guid isPermaLink=\"false\">doc-{i}</guid>"
                     f"<pubDate>Mon, {1 + i % 28:02d} Nov 2026 {i % 24:02d}:{i % 60:02d}:00 GMT</pubDate>"
                     f"<description><![CDATA[{item_html(rng, i)}]]></description></item>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>bench</title>'
            f"<link>https://finance.sina.com.cn/</link>{''.join(items)}</channel></rss>").encode()


def varied_feeds(n: int, per_feed: int) -> list[bytes]:
    """`--text varied`: bench/stories.py's generated news (half Chinese from jieba's dictionary words, half
    English; ~40% reposts in stories of 2–6) in the same Sina-like markup, 50 items a feed."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from stories import generate

    items, bodies = generate(n, 1), []
    for start in range(0, n, per_feed):
        out = []
        for i, o in enumerate(items[start:start + per_feed], start):
            text = o["text"]
            cut = max(1, len(text) // 6)
            when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(o["published"]))
            out.append(f"<item><title><![CDATA[{o['title']}]]></title>"
                       f"<link>https://finance.sina.com.cn/china/doc-{i}.shtml</link>"
                       f"<guid isPermaLink=\"false\">doc-{i}</guid><pubDate>{when}</pubDate>"
                       f"<description><![CDATA[{markup([text[k:k + cut] for k in range(0, len(text), cut)], i)}]]>"
                       "</description></item>")
        bodies.append((f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>bench</title>'
                       f"<link>https://finance.sina.com.cn/</link>{''.join(out)}</channel></rss>").encode())
    return bodies


class TimedStage(StoryStage):
    """StoryStage that adds up the CPU time of its two steps."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.describe_cpu = self.group_cpu = 0.0

    def describe_many(self, items):
        t = time.process_time()
        try:
            return super().describe_many(items)
        finally:
            self.describe_cpu += time.process_time() - t

    def group(self, store, source_key, ids):
        t = time.process_time()
        try:
            return super().group(store, source_key, ids)
        finally:
            self.group_cpu += time.process_time() - t

    def assign(self, store, rows, now=None):
        t = time.process_time()
        try:
            return super().assign(store, rows, now)
        finally:
            self.group_cpu += time.process_time() - t


def once(args, bodies, tmp: Path, k: int, stories: bool = False,
         stage_out: list | None = None) -> tuple[float, float, float, float]:
    """One ingest of every body into a fresh store (and posts). Returns wall (ingest s, posts s), then CPU."""
    cfg = Config(sources=[])
    cleaner = Cleaner(cfg)
    stage = TimedStage(cfg.stories, cfg.tags) if stories else None
    if stage_out is not None:
        stage_out.append(stage)
    if args.no_clean:
        cleaner = lambda e: (e, e.content)  # noqa: E731
    sources = [Source(url=f"http://127.0.0.1/feed/{n}", category="金融", source="新浪财经", channel=f"频道{n % 5}",
                      limit=args.per_feed) for n in range(len(bodies))]
    store = open_store(tmp / f"bench-{k}.db")
    store.sync_sources(sources)
    started, cpu = time.perf_counter(), time.process_time()
    fetched = [FetchResult(src, status=200, body=body, content_type="application/rss+xml")
               for src, body in zip(sources, bodies)]
    if args.together > 1:  # as tidings run's store thread takes the feeds that wait for it
        for at in range(0, len(fetched), args.together):
            ingest_many(store, fetched[at:at + args.together], cleaner, stories=stage)
    else:
        for result in fetched:
            ingest(store, result, cleaner, stories=stage)
    ingest_s, ingest_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert store.count_items() == args.items
    posts_s = posts_cpu = 0.0
    if not args.no_posts:
        t, cpu = time.perf_counter(), time.process_time()
        report = build_posts(store, tmp / f"blog-{k}", preset="seed", clean=True, timezone="Asia/Shanghai")
        posts_s, posts_cpu = time.perf_counter() - t, time.process_time() - cpu
        assert report.written == args.items, report
    store.close()
    return ingest_s, posts_s, ingest_cpu, posts_cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--per-feed", type=int, default=50)
    ap.add_argument("--together", type=int, default=1,
                    help="feeds stored together (jobs.ingest_many), as tidings run does with feeds that wait")
    ap.add_argument("--repeat", type=int, default=5, help="runs; the best and the median are reported")
    ap.add_argument("--no-clean", action="store_true", help="skip sanitizing (store the feed's HTML as is)")
    ap.add_argument("--no-posts", action="store_true", help="skip writing Hexo posts")
    ap.add_argument("--stories", action="store_true",
                    help="stories and tags on against off (with the posts, as SPEC §8 defines ingest; --no-posts: without)")
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR"), help="where stores and posts go (tmpfs: /dev/shm)")
    ap.add_argument("--text", choices=("sina", "varied"), default="sina",
                    help="sina: one 16-word vocabulary, every item near every other (the worst case for story "
                         "candidates); varied: bench/stories.py's generated Chinese and English news")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    rng = random.Random(7)
    n_feeds = args.items // args.per_feed
    bodies = ([feed(rng, k * args.per_feed, args.per_feed) for k in range(n_feeds)] if args.text == "sina"
              else varied_feeds(n_feeds * args.per_feed, args.per_feed))
    avg_kb = sum(len(b) for b in bodies) / args.items / 1024
    if args.stories:
        compare_stories(args, bodies, avg_kb)
        return
    runs = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for k in range(args.repeat):
            runs.append(once(args, bodies, Path(tmp), k))
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731

    def rates(totals: list[float]) -> str:
        return f"best {args.items / min(totals):,.0f}, median {args.items / med(totals):,.0f} items/s"

    mode = "no cleaning" if args.no_clean else "cleaning on"
    row = (f"| {args.items} items ({avg_kb:.1f} KB feed XML each), {mode}, {args.repeat} runs, {args.dir or 'TMPDIR'} "
           f"| parse+clean+store: {rates([r[0] for r in runs])} (CPU time: {rates([r[2] for r in runs])})")
    if not args.no_posts:
        row += (f" | parse+clean+store+Hexo posts: {rates([r[0] + r[1] for r in runs])} "
                f"(CPU time: {rates([r[2] + r[3] for r in runs])}) "
                f"| posts alone: median {med([r[1] for r in runs]) / args.items * 1e6:.0f} µs wall, "
                f"{med([r[3] for r in runs]) / args.items * 1e6:.0f} µs CPU per post")
    print(row + " |")


def compare_stories(args, bodies, avg_kb: float) -> None:
    off: list[tuple[float, float]] = []  # (wall s, CPU s) of each run: ingest, and the posts unless --no-posts
    on: list[tuple[float, float]] = []
    stages: list[TimedStage] = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        from tidings.stories import keywords
        keywords.keywords("预热", "预热文本")  # jieba's tables load once per process, not in a timed run
        for k in range(args.repeat):
            r = once(args, bodies, Path(tmp), 2 * k, stories=False)
            off.append((r[0] + r[1], r[2] + r[3]))
            r = once(args, bodies, Path(tmp), 2 * k + 1, stories=True, stage_out=stages)
            on.append((r[0] + r[1], r[2] + r[3]))
    n = args.items
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731

    def ratio(i: int) -> str:
        a, b = [r[i] for r in off], [r[i] for r in on]
        return (f"best {min(b) / min(a):.2f}, median {med(b) / med(a):.2f} "
                f"(+{(min(b) - min(a)) / n * 1e6:.0f} µs per item; off {min(a) / n * 1e6:.0f} µs)")

    us = lambda xs: f"{min(xs) / n * 1e6:.0f}–{max(xs) / n * 1e6:.0f}"  # noqa: E731
    print(f"| {n} items ({avg_kb:.1f} KB feed XML each, {args.text} text, {args.per_feed} a feed, {args.together} feed(s) at a time), cleaning on, {'no posts' if args.no_posts else 'Hexo posts'}, "
          f"{args.repeat} runs each, alternating, "
          f"{args.dir or 'TMPDIR'}, load {os.getloadavg()[0]:.1f} "
          f"| off: best {n / min(r[0] for r in off):,.0f}, median {n / med([r[0] for r in off]):,.0f} items/s "
          f"| on: best {n / min(r[0] for r in on):,.0f}, median {n / med([r[0] for r in on]):,.0f} items/s "
          f"| on ÷ off, wall: {ratio(0)} | CPU: {ratio(1)} "
          f"| CPU µs per item: describe {us([s.describe_cpu for s in stages])}, "
          f"group {us([s.group_cpu for s in stages])} |")


if __name__ == "__main__":
    main()
