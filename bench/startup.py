"""Process start-up of `tidings` (issue 15 item 5): what a command costs before it does any work.

    .venv/bin/python bench/startup.py [--runs 15] [--dir D] [--write] [--src OTHER/src]

Every figure is a whole process, timed from outside (subprocess, wall clock, the median of --runs runs, the
commands interleaved so that a busy minute hits all of them alike):

- `python -c pass`: the interpreter alone, the floor;
- `tidings --help`;
- `tidings build` on a tiny site where nothing changed (the demo's 75 items, built once before timing);
- the same build with its phases timed inside the process: imports (cli, config, pipeline), reading the
  configuration, opening the store, and the build itself;
- `python -X importtime` of `tidings build` and `tidings --help`: self time summed by top-level package
  (tidings modules one by one), the median over the runs, largest first.

It also lists the heavy modules (the fetch, clean and stories stacks; Jinja2 and Pagefind, which a build
needs only when it has pages to render) that either command imported: there should be none
(tests/test_startup.py asserts it for all but Jinja2 and Pagefind, which are the site builder's to load). Prints a Markdown section; `--write` puts it into
docs/benchmarks.md as "## Start-up — bench/startup.py" (replacing that section, up to its first subsection,
if it is there). `--src` runs another checkout's code (PYTHONPATH), to compare before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
TIDINGS = str(Path(PY).with_name("tidings"))
SECTION = "## Start-up — bench/startup.py"
# What neither `tidings --help` nor a `tidings build` where nothing changed should load.
HEAVY = ("httpx", "h2", "trafilatura", "lxml", "lxml_html_clean", "nh3", "selectolax", "procrastinate", "psycopg",
         "jieba", "rjieba", "rensa", "numpy", "rich", "asyncio", "dateutil", "tidings.jobs", "tidings.fetch",
         "tidings.parse", "tidings.clean", "tidings.stories.near", "tidings.stories.keywords", "jinja2", "pagefind")

PHASES = r"""
import json, sys, time
t0 = time.perf_counter()
from tidings import cli
from tidings.config import load
from tidings.pipeline import run
t1 = time.perf_counter()
cfg = load(sys.argv[1])
t2 = time.perf_counter()
from tidings.store import open_store
open_store(cfg.store_path).close()
t3 = time.perf_counter()
run(cfg, do_fetch=False)
t4 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "config": t2 - t1, "store": t3 - t2, "build": t4 - t3}))
"""


ENV = dict(os.environ)


def wall(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - t


def import_times(cmd: list[str], cwd: Path) -> tuple[dict[str, float], set[str]]:
    """Self time (s) by package (tidings modules by module) and every module name, from -X importtime."""
    out = subprocess.run([PY, "-X", "importtime", *cmd], cwd=cwd, check=True, capture_output=True, text=True, env=ENV)
    by: dict[str, float] = defaultdict(float)
    names = set()
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line[len("import time:"):].split("|")
        name = name.strip()
        names.add(name)
        by[name if name.startswith("tidings") else name.split(".")[0]] += int(self_us) / 1e6
    return by, names


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else 0.0


def heavy_in(names: set[str]) -> list[str]:
    """The HEAVY packages (or modules) of which something was imported."""
    return sorted(h for h in HEAVY if any(n == h or n.startswith(h + ".") for n in names))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--dir", help="where the tiny site goes (default: a temporary directory)")
    ap.add_argument("--write", action="store_true", help="put the section into docs/benchmarks.md")
    ap.add_argument("--src", help="import tidings from this directory instead (another checkout's src/)")
    args = ap.parse_args()
    if args.src:
        ENV["PYTHONPATH"] = str(Path(args.src).resolve())
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        site = Path(tmp)
        subprocess.run([TIDINGS, "demo", str(site / "demo"), "-q"], cwd=site, check=True, stdout=subprocess.DEVNULL,
                       env=ENV)
        cfg = str(site / "demo" / "tidings.yml")
        build = [TIDINGS, "build", "-q", "-c", cfg]
        wall(build, site)  # whatever the demo left to do is done before timing: the timed builds change nothing
        commands = {"`python -c pass`": [PY, "-c", "pass"], "`tidings --help`": [TIDINGS, "--help"],
                    "`tidings build`, nothing changed": build}
        times: dict[str, list[float]] = {k: [] for k in commands}
        phases: dict[str, list[float]] = defaultdict(list)
        imports: dict[str, dict[str, list[float]]] = {"build": defaultdict(list), "help": defaultdict(list)}
        seen: dict[str, set[str]] = {"build": set(), "help": set()}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                times[name].append(wall(cmd, site))
            out = subprocess.run([PY, "-c", PHASES, cfg], cwd=site, check=True, capture_output=True, text=True, env=ENV)
            for k, v in json.loads(out.stdout.splitlines()[-1]).items():
                phases[k].append(v)
            for which, cmd in (("build", build[1:]), ("help", [TIDINGS, "--help"][1:])):
                by, names = import_times([TIDINGS, *cmd], site)
                seen[which] |= names
                for pkg in set(by) | set(imports[which]):
                    imports[which][pkg].append(by.get(pkg, 0.0))
    text = section(args, times, phases, imports, seen)
    print(text)
    if args.write:
        write_docs(text)


def section(args: argparse.Namespace, times: dict[str, list[float]], phases: dict[str, list[float]],
            imports: dict[str, dict[str, list[float]]], seen: dict[str, set[str]]) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True, text=True)
    rev = commit.stdout.strip() + (" + uncommitted changes in src/" if dirty.stdout.strip() else "")
    if args.src:
        rev = f"code from {args.src}"
    floor = med(times["`python -c pass`"])
    lines = [SECTION, "",
             f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {rev}, {os.cpu_count()} cores, load average "
             f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end; median (and fastest) of {args.runs} "
             "runs, whole processes timed from outside.", "",
             "```", ".venv/bin/python bench/startup.py --runs " + str(args.runs) + (" --write" if args.write else "")
             + (f" --src {args.src}" if args.src else ""),
             "```", "",
             "| command | median ms | fastest ms | over `python -c pass` (median) |", "|---|---:|---:|---:|"]
    for name, xs in times.items():
        lines.append(f"| {name} | {med(xs) * 1e3:.0f} | {min(xs) * 1e3:.0f} | "
                     f"{'' if name == '`python -c pass`' else f'+{(med(xs) - floor) * 1e3:.0f}'} |")
    lines += ["", "`tidings build` (nothing changed), its phases timed inside the process (median ms): "
              + ", ".join(f"{k} {med(v) * 1e3:.0f}" for k, v in phases.items()) + ".", "",
              "Top import costs (`python -X importtime`, self time summed by package, tidings modules one by one; "
              "median ms):", "",
              "| `tidings build` | ms | `tidings --help` | ms |", "|---|---:|---|---:|"]
    tops = {w: sorted(((med(v), k) for k, v in imports[w].items()), reverse=True) for w in ("build", "help")}
    totals = {w: sum(m for m, _ in tops[w]) for w in tops}
    for i in range(12):
        cells = []
        for w in ("build", "help"):
            m, k = tops[w][i] if i < len(tops[w]) else (0.0, "")
            cells += [f"`{k}`" if k else "", f"{m * 1e3:.1f}" if k else ""]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"| all imports | {totals['build'] * 1e3:.0f} | all imports | {totals['help'] * 1e3:.0f} |")
    for w in ("build", "help"):
        heavy = heavy_in(seen[w])
        lines += ["", f"Heavy modules imported by `tidings {w if w == 'build' else '--help'}`: "
                  + (", ".join(f"`{h}`" for h in heavy) if heavy else "none") + "."]
    return "\n".join(lines) + "\n"


def write_docs(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    doc = path.read_text(encoding="utf-8")
    start = doc.find(SECTION)
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        end = doc.find("\n#", start + len(SECTION))  # the next heading: this section's own notes are kept
        doc = doc[:start] + text + ("\n" + doc[end + 1:] if end >= 0 else "")
    path.write_text(doc, encoding="utf-8")


if __name__ == "__main__":
    main()
