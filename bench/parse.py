"""Feed parsing: tidings' parser against feedparser over feedparser's own test corpus, in one run.

    .venv/bin/python bench/parse.py [--corpus ../shared/corpus/feedparser] [--repeat 5] [--write]

SPEC §8: tidings' feed parsing ≥ 3 × faster than feedparser over the corpus. Every file (wellformed/,
illformed/, encoding/, entities/, json/) is read once into memory; both parsers then parse the same bytes in
this process, alternating parser each repeat so that machine noise hits both; the best total of --repeat is
reported, with the ratio feedparser ÷ tidings over all files and over the files both parse to ≥ 1 entry (a
parser that refuses a feed quickly is not fast). The `Header:` lines a file carries are the HTTP response
headers feedparser's harness applies: feedparser gets them all (as `response_headers`), tidings gets their
Content-Type. Also timed, each in fresh processes: importing each library, and a whole process that starts,
imports the library and parses the corpus once (what a user meets). Pinned to one core, like bench/ingest.py.
Prints a Markdown table; --write puts it in docs/benchmarks.md under "Feed parsing".
"""
from __future__ import annotations

import argparse
import gc
import io
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DOCS = ROOT / "docs" / "benchmarks.md"
FOLDERS = ("wellformed", "illformed", "encoding", "entities", "json")
HEADER = re.compile(r"^Header:\s+([^:]+):(.*)$", re.MULTILINE)  # the form feedparser's tests/helpers.py reads
SECTION = re.compile(r"^## Feed parsing\b.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
NAMES = ("tidings", "feedparser")


@dataclass(slots=True)
class Feed:
    path: str  # relative to the corpus
    body: bytes
    headers: dict[str, str]  # lower-case names: feedparser looks them up that way

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(slots=True)
class Outcome:
    """What one parser made of the corpus (one untimed pass; parsing is deterministic)."""

    refused: int = 0  # tidings' ParseError
    crashed: int = 0  # any other exception
    entries: list[int] = field(default_factory=list)  # per file; -1 when it raised

    @property
    def parsed(self) -> int:
        return sum(1 for n in self.entries if n >= 0)

    @property
    def with_entries(self) -> int:
        return sum(1 for n in self.entries if n > 0)


def load_corpus(corpus: Path) -> list[Feed]:
    feeds = []
    for folder in FOLDERS:
        for p in sorted((corpus / folder).rglob("*")):
            if p.is_file() and p.suffix in (".xml", ".json"):
                body = p.read_bytes()
                text = body.decode("utf-8", errors="ignore")
                headers = {k.strip().lower(): v.strip() for k, v in HEADER.findall(text)}
                feeds.append(Feed(str(p.relative_to(corpus)), body, headers))
    if not feeds:
        raise SystemExit(f"no feeds under {corpus} (--corpus PATH: feedparser's corpus, see its README)")
    return feeds


def parsers(names: tuple[str, ...] = NAMES) -> dict[str, tuple[Callable[[Feed], int], type[Exception]]]:
    """Each parser in `names` as feed → number of entries, with the exception it raises to refuse a feed; only
    their own libraries are imported (a fresh process timing one must not pay for the other's import). Only
    public names of tidings.parse: its internals are being changed while this benchmark lives."""
    out: dict[str, tuple[Callable[[Feed], int], type[Exception]]] = {}
    if "tidings" in names:
        from tidings.model import Source
        from tidings.parse import ParseError, parse_feed

        source = Source(url="http://127.0.0.1:8097/feed", category="bench", source="corpus", channel="")

        def tidings(f: Feed) -> int:
            return len(parse_feed(f.body, source, content_type=f.content_type).entries)

        out["tidings"] = (tidings, ParseError)
    if "feedparser" in names:
        import feedparser

        def fp(f: Feed) -> int:
            # A stream, not bytes: given bytes, feedparser first tries them as a file name (an open() that fails).
            return len(feedparser.parse(io.BytesIO(f.body), response_headers=f.headers or None).entries)

        class Never(Exception):
            pass

        out["feedparser"] = (fp, Never)
    return out


def outcome(parse: Callable[[Feed], int], refusal: type[Exception], feeds: list[Feed]) -> Outcome:
    out = Outcome()
    for f in feeds:
        try:
            out.entries.append(parse(f))
        except refusal:
            out.refused += 1
            out.entries.append(-1)
        except Exception:  # noqa: BLE001 -- a bug in the parser, not a refusal: counted, the benchmark goes on
            out.crashed += 1
            out.entries.append(-1)
    return out


def timed_pass(parse: Callable[[Feed], int], feeds: list[Feed]) -> list[float]:
    """Seconds per file for one pass; exceptions are part of the cost and are swallowed."""
    gc.collect()  # the other parser's garbage is not this one's cost
    times = []
    clock = time.perf_counter
    for f in feeds:
        t = clock()
        try:
            parse(f)
        except Exception:  # noqa: BLE001, S110 -- counted by outcome(); here only its time matters
            pass
        times.append(clock() - t)
    return times


def child(name: str, corpus: Path, import_only: bool) -> None:
    """A fresh process: import one library (or none) and, unless import_only, parse the corpus once."""
    if import_only:
        if name == "tidings":
            import tidings.parse  # noqa: F401
        elif name == "feedparser":
            import feedparser  # noqa: F401
        return
    feeds = load_corpus(corpus)  # also in the "none" baseline: reading the files is not parsing
    if name != "none":
        parse, _ = parsers((name,))[name]
        timed_pass(parse, feeds)


def process_seconds(args: argparse.Namespace, name: str, import_only: bool) -> float:
    cmd = [sys.executable, __file__, "--child", name, "--corpus", str(args.corpus)]
    if import_only:
        cmd.append("--import-only")
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import feedparser

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], check=False, cwd=ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--", "src/tidings"):
        commit += " + uncommitted changes to src/tidings"  # the parser is edited while benchmarks run
    return (f"{os.cpu_count()} CPUs ({cpu}), pinned to one; Python {platform.python_version()}, "
            f"feedparser {feedparser.__version__}, tidings {commit}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "feedparser",
                    help="feedparser's test corpus (default: ../shared/corpus/feedparser from the repo root)")
    ap.add_argument("--repeat", type=int, default=5, help="timed passes per parser, alternating; best reported")
    ap.add_argument("--write", action="store_true", help="put the result in docs/benchmarks.md")
    ap.add_argument("--child", choices=("none", *NAMES), help=argparse.SUPPRESS)
    ap.add_argument("--import-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.corpus = args.corpus.resolve()
    if args.child:
        return child(args.child, args.corpus, args.import_only)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # both parsers are single-threaded

    feeds = load_corpus(args.corpus)
    n = len(feeds)
    ps = parsers()
    # An untimed pass each: counts what each parser makes of every file, and warms caches and lazy imports.
    outs = {name: outcome(parse, refusal, feeds) for name, (parse, refusal) in ps.items()}
    both = [i for i in range(n) if all(outs[name].entries[i] > 0 for name in NAMES)]
    runs: dict[str, list[list[float]]] = {name: [] for name in NAMES}
    for k in range(args.repeat):
        for name in NAMES if k % 2 == 0 else NAMES[::-1]:
            runs[name].append(timed_pass(ps[name][0], feeds))
        print(f"pass {k + 1}/{args.repeat}: " + ", ".join(f"{name} {sum(runs[name][-1]):.2f} s" for name in NAMES),
              file=sys.stderr)
    total = {name: min(sum(r) for r in runs[name]) for name in NAMES}
    slowest = {name: max(sum(r) for r in runs[name]) for name in NAMES}
    subset = {name: min(sum(r[i] for i in both) for r in runs[name]) for name in NAMES}

    # Fresh processes, alternating too: bare start-up, import alone, start-up + import + one parse of the corpus.
    procs: dict[tuple[str, bool], list[float]] = {}
    for k in range(args.repeat):
        for name in ("none", *(NAMES if k % 2 == 0 else NAMES[::-1])):
            for import_only in (True, False):
                procs.setdefault((name, import_only), []).append(process_seconds(args, name, import_only))
    proc = {key: min(v) for key, v in procs.items()}

    def row(label: str, t: float, f: float, ratio: str | None = "**", fmt: str = "{:.3f}",
            note: tuple[str, str] = ("", "")) -> str:
        """One table line; ratio is the Markdown emphasis of feedparser ÷ tidings, None for no ratio."""
        r = f"{ratio}{f / t:.1f} ×{ratio}" if ratio is not None and t > 0 else ""
        return f"| {label} | {fmt.format(t)}{note[0]} | {fmt.format(f)}{note[1]} | {r} |"

    tid, fp = outs["tidings"], outs["feedparser"]
    default_corpus = (ROOT.parent / "shared" / "corpus" / "feedparser").resolve()
    cmd = f".venv/bin/python bench/parse.py --repeat {args.repeat}" + (
        "" if args.corpus == default_corpus else f" --corpus {args.corpus}")
    lines = [
        f"| {n:,} files | tidings | feedparser | feedparser ÷ tidings |",
        "|---|---:|---:|---:|",
        (f"| parsed without raising | {tid.parsed:,} ({tid.refused:,} refused with ParseError"
         f"{f', {tid.crashed} crashed' if tid.crashed else ''}) | {fp.parsed:,}"
         f"{f' ({fp.crashed} raised)' if fp.crashed else ''} | |"),
        f"| parsed to ≥ 1 entry | {tid.with_entries:,} | {fp.with_entries:,} | |",
        row(f"all {n:,} files: seconds, best of {args.repeat} (slowest)", total["tidings"], total["feedparser"],
            note=(f" ({slowest['tidings']:.3f})", f" ({slowest['feedparser']:.3f})")),
        row("all files: mean µs per feed", total["tidings"] / n * 1e6, total["feedparser"] / n * 1e6,
            ratio=None, fmt="{:,.0f}"),
        row(f"the {len(both):,} files both parse to ≥ 1 entry: seconds", subset["tidings"], subset["feedparser"]),
        row("those files: mean µs per feed", subset["tidings"] / max(len(both), 1) * 1e6,
            subset["feedparser"] / max(len(both), 1) * 1e6, ratio=None, fmt="{:,.0f}"),
        row(f"import alone, fresh process (bare start-up {proc[('none', True)]:.3f} s included): seconds",
            proc[("tidings", True)], proc[("feedparser", True)], ratio=""),
        row(f"whole process: start-up + import + one pass (bare start-up + reading the files: "
            f"{proc[('none', False)]:.3f} s): seconds", proc[("tidings", False)], proc[("feedparser", False)],
            ratio=""),
    ]
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section(cmd, machine(), table)


def write_section(cmd: str, where: str, table: str) -> None:
    """Replace (or append) this benchmark's section of docs/benchmarks.md; the rest of the file is untouched."""
    section = f"""## Feed parsing — `bench/parse.py` (SPEC §8: ≥ 3 × faster than feedparser over its corpus)

feedparser's own test corpus (`../shared/corpus/feedparser`, all 5 folders), every file read once into
memory, then parsed by both in the same process: tidings' `parse_feed` and `feedparser.parse`, on the same
bytes, with the HTTP headers of a file's `Header:` lines (feedparser gets them all, as its harness does;
tidings their Content-Type). Passes alternate between the two; the best total of each is reported. The
second ratio keeps only the files both parse to ≥ 1 entry, so that refusing a feed quickly does not count as
speed. The last two rows are fresh processes, best of as many: what a user meets, Python start-up included.

```
{cmd} --write
```

Run {date.today().isoformat()}: {where}.

{table}
"""
    text = DOCS.read_text()
    m = SECTION.search(text)
    if m:  # a section follows: keep the blank line before its heading
        text = text[:m.start()] + section + ("\n" if m.end() < len(text) else "") + text[m.end():]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text)
    print(f"wrote the section to {DOCS.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
