"""Start-up (issue 15 item 5): `tidings --help` and a `tidings build` load none of the heavy stacks they do not use.

Each command runs in a fresh interpreter that reports `sys.modules` when it ends, so a top-level import that
pulls in the fetch, parse, clean, stories or queue stack again (an `import httpx` at the top of a module the
build imports, say) fails here. bench/startup.py times the same commands.

SQLite only: what is checked is which modules a SQLite build imports, psycopg and tidings.store.postgres among
those it must not; a build from PostgreSQL needs them.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from feedserver import rss
from util import cli, write_config

# Not needed to build from the store: fetching (httpx, h2), parsing and cleaning (selectolax, nh3, lxml,
# trafilatura, dateutil), stories (numpy, rensa, jieba), the job queue (procrastinate, psycopg), the
# progress bar (rich: -q and a pipe never draw one) and asyncio, which only fetching uses.
HEAVY_FOR_BUILD = ("httpx", "h2", "httpcore", "trafilatura", "lxml", "lxml_html_clean", "nh3", "selectolax",
                   "procrastinate", "psycopg", "psycopg_pool", "jieba", "rjieba", "rensa", "numpy", "rich",
                   "asyncio", "dateutil", "tidings.jobs", "tidings.fetch", "tidings.http", "tidings.parse",
                   "tidings.clean", "tidings.stories.near", "tidings.stories.keywords", "tidings.stories.assign",
                   "tidings.worker", "tidings.store.postgres")
# --help needs argparse and nothing else of weight: no configuration (pydantic, YAML), no store.
HEAVY_FOR_HELP = HEAVY_FOR_BUILD + ("pydantic", "pydantic_core", "yaml", "sqlite3", "tidings.config",
                                    "tidings.store", "tidings.pipeline", "tidings.publish")

WRAPPER = """
import json, sys
out = sys.argv[1]
sys.argv = ["tidings", *sys.argv[2:]]
from tidings.cli import main
try:
    code = main()
except SystemExit as e:
    code = e.code
with open(out, "w", encoding="utf-8") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def modules_of(tmp_path: Path, *args: str) -> tuple[int, list[str], str]:
    """(exit code, every module imported, stdout) of `tidings *args` in a fresh interpreter."""
    out = tmp_path / f"modules-{len(list(tmp_path.glob('modules-*')))}.json"
    proc = subprocess.run([sys.executable, "-c", WRAPPER, str(out), *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert out.exists(), proc.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    return report["code"], report["modules"], proc.stdout


def loaded(modules: list[str], heavy: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in heavy)]


def test_help_imports_neither_the_configuration_nor_any_heavy_stack(tmp_path):
    code, modules, stdout = modules_of(tmp_path, "--help")
    assert code == 0 and "build" in stdout
    assert loaded(modules, HEAVY_FOR_HELP) == []


@pytest.fixture
def built_site(tmp_path, server) -> Path:
    """A tiny site (Hexo posts and the built-in site), fetched and built once: a later build changes nothing."""
    body = "".join(f"<p>第 {i} 段 <a href='http://news.example.com/x?utm_source=rss'>链接</a></p>" for i in range(3))
    url = server.add("/feed", rss([{"title": f"标题 {i}", "link": f"http://news.example.com/{i}", "guid": f"id-{i}",
                                    "pubDate": f"Mon, 14 Mar 2022 {i:02d}:00:00 GMT", "description": body}
                                   for i in range(3)]))
    cfg = write_config(tmp_path, [{"category": "新闻", "source": "Example", "channel": "Main", "url": url}],
                       site_dir="public")
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    return cfg


def test_build_with_nothing_changed_imports_no_heavy_stack(tmp_path, built_site):
    code, modules, stdout = modules_of(tmp_path, "build", "-q", "-c", str(built_site))
    assert code == 0, stdout
    assert "hexo posts: 0 written, 3 unchanged" in stdout
    assert "tidings.config" in modules and "tidings.publish.hexo" in modules  # it did read the config, and build
    assert loaded(modules, HEAVY_FOR_BUILD) == []


def test_build_that_writes_posts_imports_no_heavy_stack(tmp_path, built_site):
    """Rendering posts from the store needs no fetch, parse or clean code either."""
    for post in (tmp_path / "blog" / "source" / "_posts").rglob("*.md"):
        post.unlink()
    code, modules, stdout = modules_of(tmp_path, "build", "-q", "-c", str(built_site))
    assert code == 0, stdout
    assert "hexo posts: 3 written" in stdout
    assert loaded(modules, HEAVY_FOR_BUILD) == []


def test_the_check_sees_a_heavy_import(tmp_path):
    """The wrapper does report what a command imported (the test above cannot pass by seeing nothing)."""
    code, modules, _ = modules_of(tmp_path, "--version")
    assert code == 0 and "tidings.cli" in modules and "argparse" in modules
    assert loaded(["numpy", "numpy.core", "httpx._client", "tidings.clean.sanitize", "yaml"], HEAVY_FOR_BUILD) == [
        "numpy", "numpy.core", "httpx._client", "tidings.clean.sanitize"]


def test_reading_a_feed_loads_no_http_client():
    """The feed parser (bench/parse.py times it as a whole process) shares its charset lookup with the HTTP
    layer through tidings.charsets, not by importing tidings.http, which loads httpx."""
    code = "import sys, tidings.parse; print(sorted(m for m in ('httpx', 'httpcore', 'tidings.http') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
