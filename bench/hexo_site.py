"""The Hexo site the benchmarks compare against: what `hexo init` makes, plus feeds and a sitemap.

`hexo init` clones hexo-starter from GitHub (no network here beyond npm's registry), so this writes the same
site by hand: hexo-starter's dependencies (Hexo 8, the index / archive / category / tag generators, the EJS,
Marked and Stylus renderers, the default theme hexo-theme-landscape) and its `_config.yml` defaults, plus
hexo-generator-feed and hexo-generator-sitemap, because the built-in site writes feeds and a sitemap too.
Both sites list 30 items a page. Packages are npm-installed once into `~/.cache/tidings-bench/hexo-starter`
(`$TIDINGS_BENCH_HEXO_CACHE`). `generate(site)` times `hexo generate` in a site (this one or the harness's).

The test harness's minimal theme (tests/hexo_harness.py: one unpaginated index, no month archives, no
feeds, no sidebar) is kept as a second, lower bound: the least work Hexo can do with these posts.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

# hexo-starter's package.json (2025), at the majors `npm install` gives today, + feed and sitemap generators.
PACKAGES = {
    "hexo": "^8.0.0",
    "hexo-generator-archive": "^2.0.0",
    "hexo-generator-category": "^2.0.0",
    "hexo-generator-index": "^4.0.0",
    "hexo-generator-tag": "^2.0.0",
    "hexo-renderer-ejs": "^2.0.0",
    "hexo-renderer-marked": "^7.0.0",
    "hexo-renderer-stylus": "^3.0.0",
    "hexo-theme-landscape": "^1.0.0",
    "hexo-generator-feed": "^3.0.0",
    "hexo-generator-sitemap": "^3.0.0",
}

# hexo-starter's _config.yml, trimmed to what differs from Hexo's defaults, with 30 a page as in tidings.
CONFIG = """\
title: 资讯聚合
language: zh-CN
timezone: Asia/Shanghai
url: https://news.example.com
permalink: :year/:month/:day/:title/
source_dir: source
public_dir: public
new_post_name: :title.md
post_asset_folder: false
relative_link: false
future: true
syntax_highlighter: highlight.js
index_generator:
  path: ''
  per_page: 30
  order_by: -date
per_page: 30
pagination_dir: page
theme: landscape
feed:
  type: [atom, rss2]
  path: [atom.xml, rss2.xml]
  limit: 20
sitemap:
  path: sitemap.xml
"""


def cache_dir() -> Path:
    env = os.environ.get("TIDINGS_BENCH_HEXO_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tidings-bench" / "hexo-starter"


def ensure_installed() -> Path:
    cache = cache_dir()
    pkg = json.dumps({"name": "tidings-bench-hexo", "version": "0.0.0", "private": True,
                      "dependencies": PACKAGES}, indent=2, sort_keys=True) + "\n"
    stamp = cache / ".installed"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == pkg:
        return cache
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("--hexo needs node and npm")
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "package.json").write_text(pkg, encoding="utf-8")
    proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=cache,
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"npm install in {cache} failed:\n{proc.stdout}\n{proc.stderr}")
    stamp.write_text(pkg, encoding="utf-8")
    return cache


def make_site(root: Path) -> Path:
    """A Hexo site at `root` as `hexo init` would make it (themes come from node_modules)."""
    cache = ensure_installed()
    root.mkdir(parents=True, exist_ok=True)
    (root / "_config.yml").write_text(CONFIG, encoding="utf-8")
    versions = {}
    for name in PACKAGES:
        versions[name] = json.loads((cache / "node_modules" / name / "package.json").read_text())["version"]
    (root / "package.json").write_text(json.dumps({
        "name": "tidings-bench-site", "version": "0.0.0", "private": True,
        "hexo": {"version": versions["hexo"]}, "dependencies": versions}, indent=2) + "\n", encoding="utf-8")
    link = root / "node_modules"
    if not link.exists():
        link.symlink_to(cache / "node_modules", target_is_directory=True)
    (root / "source" / "_posts").mkdir(parents=True, exist_ok=True)
    return root


def generate(site: Path) -> dict:
    """Run `hexo generate` in `site` as one process, timed from outside as a user would run it: wall seconds,
    peak RSS in MB (`/usr/bin/time -f %M`; 0 without it), and the files and *.html pages in public/."""
    timer = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
    cmd = timer + ["node", str(site / "node_modules" / "hexo" / "bin" / "hexo"), "generate"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=site, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"hexo generate in {site} failed:\n{proc.stderr[-2000:]}")
    rss_kb = int(proc.stderr.strip().splitlines()[-1]) if timer else 0
    files = [p for p in (site / "public").rglob("*") if p.is_file()]
    return {"seconds": seconds, "rss_mb": rss_kb / 1024, "files": len(files),
            "pages": sum(p.suffix == ".html" for p in files)}


def versions() -> dict[str, str]:
    cache = cache_dir()
    return {name: json.loads((cache / "node_modules" / name / "package.json").read_text())["version"]
            for name in ("hexo", "hexo-theme-landscape")}
