"""Stories and tags: cost per item of fingerprint, band_keys, keywords and grouping (SPEC §10: ≤ 15% of ingest).

    .venv/bin/python bench/stories.py [--items 100000] [--seed 1]
    .venv/bin/python bench/stories.py --describe [--items 5000] [--passes 7]
    .venv/bin/python bench/stories.py --store [--items 20000]     # TMPDIR=/dev/shm: the store on tmpfs

Generates items programmatically: half Chinese (words drawn from jieba's IDF table, so segmentation
meets real dictionary words), half English (words from the labelled test set), 300–1,500 characters of
text each; about 40% of them are reposts (stories of 2–6 items: another headline, outlet boilerplate,
cut short, a word changed), the rest singletons; published over 60 days. Every item goes through
read_lead (title and lead normalised once) → fingerprint_of → band_keys → keywords_of → Grouper.add, each
timed on its own. Prints a Markdown table for docs/benchmarks.md, with pairwise precision/recall of the
grouping on the generated labels.

--describe times what ingest adds per item before storing it, `StoryStage.describe(entry, html)` (plain
text from the HTML, then the above but band keys and grouping), in CPU time (`time.process_time`), the
best of `--passes` passes over the items: on a VM whose other core is busy, wall time and single passes
vary by 1.5–2 ×, the best CPU-time pass much less.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tidings.stories.keywords import keywords, keywords_of  # noqa: E402
from tidings.stories.near import Grouper, band_keys, fingerprint_of, read_lead  # noqa: E402

INGEST_US = 1000.0  # ~1 ms per item: bench/ingest.py, parse + clean + store, this VM (docs/benchmarks.md)
ZH_PRE = ["新华社北京{m}月{d}日电（记者 {n}）", "央视网消息：", "中新网{m}月{d}日电 ", "本报讯 ", "原标题：{t} ", ""]
ZH_POST = [" 责任编辑：{n}", " （完）", " 来源：新华网", " 海量资讯、精准解读，尽在新浪财经APP", ""]
EN_PRE = ["WASHINGTON, Nov {d} (Reuters) - ", "LONDON (AP) — ", "Reuters - ", "By {n}\n", ""]
EN_POST = [" (Reporting by {n}; Editing by {n})", " - The Guardian", ""]
NAMES_ZH = ["张三", "李明", "王芳", "赵磊", "刘洋"]
NAMES_EN = ["John Smith", "Jane Doe", "Ann Lee", "Tom Brown"]


def vocabularies(rng: random.Random) -> tuple[list[str], list[str]]:
    import jieba

    idf = Path(jieba.__file__).parent / "analyse" / "idf.txt"
    zh = [line.split(" ")[0] for line in idf.read_text(encoding="utf-8").splitlines()]
    zh = rng.sample([w for w in zh if 2 <= len(w) <= 4], 20000)
    zh += ["的", "了", "在", "和", "是", "对", "将", "与"] * 400  # function characters, as in real text
    data = ROOT / "tests" / "stories" / "data" / "labelled.jsonl"
    en: set[str] = set()
    for line in data.read_text(encoding="utf-8").splitlines():
        o = json.loads(line)
        if o["id"].startswith("en"):
            en.update(w.strip(".,;:()\"'") for w in (o["title"] + " " + o["text"]).split())
    en_words = sorted(w for w in en if w.isalpha())
    en_words += ["the", "of", "and", "to", "in", "a", "said", "on", "for", "that"] * 60
    return zh, en_words


def zh_text(rng: random.Random, vocab: list[str], n: int) -> str:
    out: list[str] = []
    size = 0
    while size < n:
        sent = "".join(rng.choice(vocab) for _ in range(rng.randint(6, 14)))
        if rng.random() < 0.5:
            sent += f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日"
        if rng.random() < 0.4:
            sent += f"增长{rng.randint(1, 99)}.{rng.randint(0, 9)}%"
        out.append(sent + rng.choice("，。。"))
        size += len(out[-1])
    return "".join(out)


def en_text(rng: random.Random, vocab: list[str], n: int) -> str:
    out: list[str] = []
    size = 0
    while size < n:
        words = [rng.choice(vocab) for _ in range(rng.randint(8, 20))]
        if rng.random() < 0.4:
            words.insert(rng.randrange(len(words)), f"{rng.randint(2, 999)}.{rng.randint(0, 9)}%")
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), rng.choice(["Federal Reserve", "European Union", "Tim Cook"]))
        s = " ".join(words)
        out.append(s[0].upper() + s[1:] + ".")
        size += len(out[-1]) + 1
    return " ".join(out)


def generate(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    zh_vocab, en_vocab = vocabularies(rng)
    items: list[dict] = []
    story = 0
    t0 = 1730419200.0
    while len(items) < n:
        story += 1
        zh = rng.random() < 0.5
        make = zh_text if zh else en_text
        vocab = zh_vocab if zh else en_vocab
        body = make(rng, vocab, rng.randint(300, 1500))
        title = make(rng, vocab, 18 if zh else 60).rstrip("。，.")
        published = t0 + rng.uniform(0, 60 * 86400)
        size = 1 if rng.random() < 0.75 else rng.randint(2, 6)  # ≈ 40% of items are in multi-item stories
        for k in range(min(size, n - len(items))):
            text, head = body, title
            if k:
                head = make(rng, vocab, 18 if zh else 60).rstrip("。，.") if rng.random() < 0.7 else title
                if rng.random() < 0.3:
                    text = text[: rng.randint(150, 400)]
                if rng.random() < 0.3:
                    i = rng.randrange(len(text) // 2 + 1)
                    text = text[:i] + rng.choice(vocab) + text[i + 2:]
            name = rng.choice(NAMES_ZH if zh else NAMES_EN)
            pre = rng.choice(ZH_PRE if zh else EN_PRE).format(m=11, d=rng.randint(1, 28), n=name, t=title)
            post = rng.choice(ZH_POST if zh else EN_POST).format(n=name)
            items.append(dict(id=f"i{len(items):06d}", story=f"s{story}", title=head, text=pre + text + post,
                              published=published + k * rng.uniform(0, 86400)))
    rng.shuffle(items)
    return items


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--store", action="store_true",
                    help="the pipeline's path instead: StoryStage.describe, then StoryStage.assign + upsert in one "
                         "transaction per feed of 20 on a fresh SQLite store, in arrival order")
    ap.add_argument("--describe", action="store_true",
                    help="StoryStage.describe alone, and its parts: CPU time, best of --passes passes")
    ap.add_argument("--passes", type=int, default=7)
    args = ap.parse_args()
    if args.store:
        through_store(generate(args.items, args.seed))
        return
    if args.describe:
        describe_only(generate(args.items, args.seed), args.passes)
        return
    t = time.perf_counter()
    items = generate(args.items, args.seed)
    gen_s = time.perf_counter() - t
    rss_gen = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    keywords("预热", "加载词典")  # jieba's dictionary: loaded once per process, not counted per item
    warm_s = time.perf_counter() - t

    g = Grouper()
    cost = {"read_lead (normalise title + lead, once)": 0.0, "fingerprint_of": 0.0, "band_keys": 0.0,
            "keywords_of": 0.0, "grouping (Grouper.add)": 0.0}
    per_lang = {"zh": [0.0, 0], "en": [0.0, 0]}
    pc = time.perf_counter
    wall = pc()
    for o in items:
        t0 = pc()
        lead = read_lead(o["title"], o["text"])
        t1 = pc()
        fp = fingerprint_of(lead)
        t2 = pc()
        band_keys(fp)
        t3 = pc()
        keywords_of(lead)
        t4 = pc()
        g.add(o["id"], fp, o["published"])
        t5 = pc()
        cost["read_lead (normalise title + lead, once)"] += t1 - t0
        cost["fingerprint_of"] += t2 - t1
        cost["band_keys"] += t3 - t2
        cost["keywords_of"] += t4 - t3
        cost["grouping (Grouper.add)"] += t5 - t4
        lang = "zh" if "\u4e00" <= o["title"][:1] <= "\u9fff" else "en"
        per_lang[lang][0] += t4 - t3
        per_lang[lang][1] += 1
    wall = pc() - wall
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    by_story: dict[str, list[str]] = {}
    for o in items:
        by_story.setdefault(o["story"], []).append(o["id"])
    tp = fn = 0
    for ids in by_story.values():
        for a, b in itertools.combinations(ids, 2):
            if g.story_of(a) == g.story_of(b):
                tp += 1
            else:
                fn += 1
    label = {o["id"]: o["story"] for o in items}
    fp_pairs = 0
    for ids in g.stories().values():
        for a, b in itertools.combinations(ids, 2):
            fp_pairs += label[a] != label[b]

    n = len(items)
    print(f"{n:,} items ({sum(1 for o in items if o['title'][:1] >= chr(0x4e00)):,} Chinese), "
          f"{len(by_story):,} generated stories, {len(g.stories()):,} found; generated in {gen_s:.1f} s "
          f"(RSS then {rss_gen:.0f} MB); jieba loaded in {warm_s:.2f} s")
    print()
    print("| step | µs per item | vs ingest (~1 ms/item) |")
    print("|---|---:|---:|")
    total = 0.0
    for name, s in cost.items():
        us = s / n * 1e6
        total += us
        print(f"| {name} | {us:,.1f} | {us / INGEST_US:.1%} |")
    for lang, (s, k) in per_lang.items():
        print(f"| — keywords, {lang} items only | {s / max(k, 1) * 1e6:,.1f} | |")
    print(f"| **total** | **{total:,.1f}** | **{total / INGEST_US:.1%}** |")
    print()
    print(f"wall time {wall:.1f} s for {n:,} items; peak RSS {rss:.0f} MB "
          f"(grouper + items: +{rss - rss_gen:.0f} MB over the generated items)")
    print(f"grouping on the generated labels: pairwise precision {tp / max(tp + fp_pairs, 1):.4f}, "
          f"recall {tp / max(tp + fn, 1):.4f} ({tp:,} pairs found, {fp_pairs:,} wrong, {fn:,} missed)")


def describe_only(items: list[dict], passes: int) -> None:
    """CPU time per item of StoryStage.describe and of its parts, the best of `passes` passes."""
    from datetime import UTC, datetime

    from tidings.config import StoriesSettings, TagsSettings
    from tidings.model import Entry
    from tidings.stories.assign import StoryStage, plain_text

    stage = StoryStage(StoriesSettings(), TagsSettings())
    keywords("预热", "加载词典")
    rows = [(Entry(source_key="k", id=o["id"], title=o["title"], link=f"http://x/{o['id']}", guid=o["id"],
                   published=datetime.fromtimestamp(o["published"], UTC), content=o["text"]), f"<p>{o['text']}</p>")
            for o in items]
    zh = {o["id"] for o in items if "\u4e00" <= o["title"][:1] <= "\u9fff"}
    texts = [(e.title, plain_text(html)) for e, html in rows]
    leads = [read_lead(t, x) for t, x in texts]
    zh_leads = [lead for (e, _), lead in zip(rows, leads) if e.id in zh]
    en_leads = [lead for (e, _), lead in zip(rows, leads) if e.id not in zh]
    feeds = [rows[k:k + FEED_ITEMS] for k in range(0, len(rows), FEED_ITEMS)]
    steps: list[tuple[str, Callable[[Any], object], Sequence[Any]]] = [
        (f"**describe_many** (all of the below, as ingest calls it: feeds of {FEED_ITEMS} new items)",
         stage.describe_many, feeds),
        ("describe (one item at a time)", lambda r: stage.describe(*r), rows),
        ("— plain_text (from the item's HTML)", lambda r: plain_text(r[1]), rows),
        ("— read_lead (title + lead normalised once)", lambda a: read_lead(*a), texts),
        ("— fingerprint_of + to_bytes", lambda lead: fingerprint_of(lead).to_bytes(), leads),
        ("— keywords_of", keywords_of, leads),
        ("  — Chinese items only", keywords_of, zh_leads),
        ("  — English items only", keywords_of, en_leads),
    ]
    for _, f, data in steps:  # warm the memos (words, marks) before anything is timed
        for x in data:
            f(x)
    pc = time.process_time
    print(f"{len(items):,} items ({len(zh):,} Chinese); CPU time, best of {passes} passes; {os.getloadavg()[0]:.1f} load")
    print()
    print("| step | µs per item |")
    print("|---|---:|")
    for name, f, data in steps:
        best = float("inf")
        for _ in range(passes):
            t = pc()
            for x in data:
                f(x)
            best = min(best, pc() - t)
        n = len(rows) if data is feeds else len(data)
        print(f"| {name} | {best / max(n, 1) * 1e6:,.1f} |")


FEED_ITEMS = 20  # items per fetched feed in --store mode


def through_store(items: list[dict]) -> None:
    """µs per item of what ingest adds with stories and tags on, on varied (not templated) items."""
    import tempfile
    from datetime import UTC, datetime
    from pathlib import Path

    from tidings.config import StoriesSettings, TagsSettings
    from tidings.model import Entry, Source
    from tidings.store import IngestRow, open_store
    from tidings.stories.assign import StoryStage

    stage = StoryStage(StoriesSettings(), TagsSettings())
    keywords("预热", "加载词典")
    src = Source(url="http://feeds.example/bench", category="c", source="bench", channel="")
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "s.db")
        store.sync_sources([src])
        describe = describe_cpu = write = write_cpu = group = group_cpu = commit = commit_cpu = 0.0
        pc, cpu = time.perf_counter, time.process_time
        for start in range(0, len(items), FEED_ITEMS):  # one transaction per feed, as ingest does
            pairs = [(Entry(source_key=src.key, id=o["id"], title=o["title"], link=f"http://x/{o['id']}",
                            guid=o["id"], published=datetime.fromtimestamp(o["published"], UTC), content=o["text"]),
                      f"<p>{o['text']}</p>") for o in items[start:start + FEED_ITEMS]]
            t0, c0 = pc(), cpu()
            # as ingest does: the feed's new items at once (one at a time in code before session 8)
            described = (stage.describe_many(pairs) if hasattr(stage, "describe_many")
                         else [stage.describe(e, html) for e, html in pairs])
            rows = [IngestRow(e, html, keywords=words, fingerprint=fp)
                    for (e, html), (words, fp) in zip(pairs, described)]
            t1, c1 = pc(), cpu()
            with store.transaction():  # as jobs._store_feed: stories found before the upsert, one commit
                if hasattr(stage, "assign"):
                    rows = stage.assign(store, rows)
                    t2, c2 = pc(), cpu()
                    store.upsert_entries(rows)
                    t3, c3 = pc(), cpu()
                    lookup, upsert = (t2 - t1, c2 - c1), (t3 - t2, c3 - c2)
                else:  # the code before session 7: upsert, then group the stored items
                    store.upsert_entries(rows)
                    t2, c2 = pc(), cpu()
                    stage.group(store, src.key, [r.entry.id for r in rows])
                    t3, c3 = pc(), cpu()
                    lookup, upsert = (t3 - t2, c3 - c2), (t2 - t1, c2 - c1)
            t4, c4 = pc(), cpu()
            describe += t1 - t0
            describe_cpu += c1 - c0
            group += lookup[0]
            group_cpu += lookup[1]
            write += upsert[0]
            write_cpu += upsert[1]
            commit += t4 - t3
            commit_cpu += c4 - c3
        story = {it.id: it.story for it in store.iter_items(bodies=False)}
        store.close()
    n = len(items)
    by_story: dict[str, list[str]] = {}
    for o in items:
        by_story.setdefault(o["story"], []).append(o["id"])
    tp = sum(story[a] == story[b] for ids in by_story.values() for a, b in itertools.combinations(ids, 2))
    pairs = sum(len(ids) * (len(ids) - 1) // 2 for ids in by_story.values())
    label = {o["id"]: o["story"] for o in items}
    found: dict[str, list[str]] = {}
    for item_id, s in story.items():
        found.setdefault(s, []).append(item_id)
    wrong = sum(label[a] != label[b] for ids in found.values() for a, b in itertools.combinations(ids, 2))
    us = lambda x: f"{x / n * 1e6:,.0f}"  # noqa: E731
    print(f"| {n:,} generated items through StoryStage + SQLite ({os.environ.get('TMPDIR', '/tmp')}, "
          f"load {os.getloadavg()[0]:.1f}) | describe {us(describe)} µs ({us(describe_cpu)} CPU) "
          f"| story lookup and assignment {us(group)} ({us(group_cpu)} CPU) "
          f"| together {us(describe + group)} µs = {(describe + group) / n * 1e6 / INGEST_US:.0%} of ~1 ms ingest "
          f"| the items' upsert {us(write)} ({us(write_cpu)} CPU), commit {us(commit)} ({us(commit_cpu)} CPU), "
          f"feeds of {FEED_ITEMS} | precision {tp / max(tp + wrong, 1):.4f}, recall {tp / max(pairs, 1):.4f} |")


if __name__ == "__main__":
    main()
