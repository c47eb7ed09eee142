"""Real Hexo for integration tests.

``ensure_hexo()`` npm-installs Hexo and the plugins a minimal site needs into
a cache directory (``$TIDINGS_HEXO_CACHE``, default
``~/.cache/tidings-test/hexo``) once; ``make_site()`` writes a minimal site
that uses it; ``hexo_generate()`` runs ``hexo generate`` and reports which
source post produced which page.

The test theme's ``post.ejs`` writes ``<meta name="tidings-source" ...>``
(``page.source``, e.g. ``_posts/a/b.md``) and the post title into every post
page, so a test can check that *every* file it wrote became exactly one page.

Only npm's registry is contacted, and only by ``ensure_hexo`` when the cache
is missing or stale.  No ``hexo init`` (it needs git and GitHub).
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "HEXO_PACKAGES",
    "HexoUnavailable",
    "HexoResult",
    "GeneratedPage",
    "node_available",
    "hexo_cache_dir",
    "ensure_hexo",
    "make_site",
    "hexo_generate",
]

# "whatever `npm install hexo` gives today" is 8.x; the majors are pinned so
# that a new major cannot silently change what the tests exercise.
# js-yaml ^4 dedupes with the copy hexo-front-matter loads, so tests that
# round-trip YAML through ``<cache>/node_modules/js-yaml`` test Hexo's parser.
HEXO_PACKAGES: dict[str, str] = {
    "hexo": "^8.0.0",
    "hexo-renderer-marked": "^7.0.0",
    "hexo-renderer-ejs": "^2.0.0",
    "hexo-generator-index": "^4.0.0",
    "hexo-generator-archive": "^2.0.0",
    "hexo-generator-category": "^2.0.0",
    "js-yaml": "^4.1.0",
}

_STAMP = ".tidings-installed.json"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class HexoUnavailable(RuntimeError):
    """node/npm missing: tests should skip with this message."""


def node_available() -> bool:
    return shutil.which("node") is not None


def hexo_cache_dir() -> Path:
    env = os.environ.get("TIDINGS_HEXO_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    return (Path.home() / ".cache" / "tidings-test" / "hexo").resolve()


def _package_json() -> str:
    return (
        json.dumps(
            {
                "name": "tidings-test-hexo",
                "version": "0.0.0",
                "private": True,
                "description": "Hexo installed by tests/hexo_harness.py",
                "dependencies": HEXO_PACKAGES,
            },
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )


def _installed_versions(cache: Path) -> dict[str, str] | None:
    out = {}
    for name, spec in HEXO_PACKAGES.items():
        pj = cache / "node_modules" / name / "package.json"
        try:
            version = json.loads(pj.read_text(encoding="utf-8"))["version"]
        except (OSError, ValueError, KeyError):
            return None
        want_major = spec.lstrip("^~").split(".")[0]
        if version.split(".")[0] != want_major:
            return None
        out[name] = version
    return out


def _cache_ok(cache: Path) -> bool:
    try:
        stamp = json.loads((cache / _STAMP).read_text(encoding="utf-8"))
        current = (cache / "package.json").read_text(encoding="utf-8")
    except (OSError, ValueError):
        return False
    if current != _package_json() or stamp.get("package.json") != current:
        return False
    return _installed_versions(cache) == stamp.get("versions")


@contextlib.contextmanager
def _lock(path: Path, timeout: float = 1800.0):
    """Exclusive inter-process lock (flock; O_EXCL lock file elsewhere)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None
    if fcntl is not None:
        with open(path, "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return
    deadline = time.monotonic() + timeout  # pragma: no cover - Windows
    while True:  # pragma: no cover
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"lock {path} held for too long") from None
            time.sleep(0.5)
    try:  # pragma: no cover
        yield
    finally:  # pragma: no cover
        os.close(fd)
        os.unlink(path)


def ensure_hexo(timeout: float = 900.0) -> Path:
    """Install Hexo into the cache if needed; return the directory holding
    ``node_modules``.  Raises :class:`HexoUnavailable` without node/npm and
    ``RuntimeError`` (with npm's output) when ``npm install`` fails."""
    if not node_available():
        raise HexoUnavailable("node is not on PATH")
    npm = shutil.which("npm")
    if npm is None:
        raise HexoUnavailable("npm is not on PATH")
    cache = hexo_cache_dir()
    if _cache_ok(cache):
        return cache
    with _lock(cache.parent / (cache.name + ".lock")):
        if _cache_ok(cache):  # another process installed it meanwhile
            return cache
        cache.mkdir(parents=True, exist_ok=True)
        (cache / _STAMP).unlink(missing_ok=True)
        (cache / "package.json").write_text(_package_json(), encoding="utf-8")
        # --ignore-scripts: nothing here needs an install script (hexo-util
        # ships its generated files), and it keeps installs identical across
        # npm versions and free of arbitrary code.
        cmd = [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts"]
        proc = subprocess.run(
            cmd, cwd=cache, capture_output=True, text=True, timeout=timeout
        )
        versions = _installed_versions(cache)
        if proc.returncode != 0 or versions is None:
            raise RuntimeError(
                f"`{' '.join(cmd)}` in {cache} failed (exit {proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        stamp = {"package.json": _package_json(), "versions": versions}
        (cache / _STAMP).write_text(json.dumps(stamp, indent=2), encoding="utf-8")
    return cache


def installed_versions() -> dict[str, str]:
    """Versions in the cache (after :func:`ensure_hexo`)."""
    return _installed_versions(hexo_cache_dir()) or {}


_CONFIG = """\
# minimal site written by tests/hexo_harness.py
title: tidings test site
language: en
timezone: UTC
url: http://example.com
root: /
permalink: :year/:month/:day/:title/
new_post_name: :title.md
source_dir: source
public_dir: public
theme: tidings-test
render_drafts: false
post_asset_folder: false
relative_link: false
future: true
syntax_highlighter: false
index_generator:
  path: ''
  per_page: 0
  order_by: -date
archive_generator:
  per_page: 0
  yearly: false
  monthly: false
category_generator:
  per_page: 0
"""

_THEME = {
    "layout.ejs": """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title><%= page.title || config.title %></title></head>
<body>
<%- body %>
</body></html>
""",
    "index.ejs": """<ul class="tidings-index">
<% page.posts.each(function (post) { %><li><a href="<%- url_for(post.path) %>"><%= post.title %></a></li>
<% }) %></ul>
""",
    "archive.ejs": """<ul class="tidings-archive">
<% page.posts.each(function (post) { %><li><a href="<%- url_for(post.path) %>"><%= post.title %></a></li>
<% }) %></ul>
""",
    "category.ejs": """<h1 class="tidings-category"><%= page.category %></h1>
<ul>
<% page.posts.each(function (post) { %><li><a href="<%- url_for(post.path) %>"><%= post.title %></a></li>
<% }) %></ul>
""",
    "post.ejs": """<meta name="tidings-source" content="<%= page.source %>">
<meta name="tidings-path" content="<%= page.path %>">
<article>
<h1 class="tidings-title"><%= page.title %></h1>
<div class="tidings-categories"><% page.categories.each(function (c) { %><span class="tidings-category"><%= c.name %></span><% }) %></div>
<div class="tidings-content">
<%- page.content %>
</div>
</article>
""",
}


def make_site(root: Path) -> Path:
    """Write a minimal Hexo site at ``root`` using the cached install."""
    cache = ensure_hexo()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "_config.yml").write_text(_CONFIG, encoding="utf-8")
    versions = installed_versions()
    # hexo-cli finds the site by a package.json with a "hexo" key, and Hexo
    # loads the plugins listed in its dependencies.
    pkg = {
        "name": "tidings-test-site",
        "version": "0.0.0",
        "private": True,
        "hexo": {"version": versions.get("hexo", "")},
        "dependencies": {name: versions.get(name, spec) for name, spec in HEXO_PACKAGES.items()},
    }
    (root / "package.json").write_text(json.dumps(pkg, indent=2) + "\n", encoding="utf-8")
    link = root / "node_modules"
    if not link.exists():
        link.symlink_to(cache / "node_modules", target_is_directory=True)
    layout = root / "themes" / "tidings-test" / "layout"
    layout.mkdir(parents=True, exist_ok=True)
    for name, text in _THEME.items():
        (layout / name).write_text(text, encoding="utf-8")
    (root / "themes" / "tidings-test" / "_config.yml").write_text("{}\n", encoding="utf-8")
    (root / "source" / "_posts").mkdir(parents=True, exist_ok=True)
    return root


@dataclass
class GeneratedPage:
    file: Path  # the generated HTML file
    source: str  # page.source, e.g. "_posts/a/b.md"
    path: str  # page.path, e.g. "2022/03/14/a/b/"
    title: str  # text of the rendered title (HTML-unescaped)
    html: str


@dataclass
class HexoResult:
    returncode: int
    stdout: str
    stderr: str
    posts: list[GeneratedPage] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def sources(self) -> list[str]:
        return sorted(p.source for p in self.posts)

    def page_for(self, source: str) -> GeneratedPage:
        """The page generated from ``source`` (``_posts/...``)."""
        hits = [p for p in self.posts if p.source == source]
        if len(hits) != 1:
            raise KeyError(f"{len(hits)} pages for {source!r}")
        return hits[0]


_META_SOURCE = re.compile(r'<meta name="tidings-source" content="([^"]*)">')
_META_PATH = re.compile(r'<meta name="tidings-path" content="([^"]*)">')
_TITLE = re.compile(r'<h1 class="tidings-title">(.*?)</h1>', re.S)


def _collect_posts(public: Path) -> list[GeneratedPage]:
    pages = []
    if not public.is_dir():
        return pages
    for f in sorted(public.rglob("*.html")):
        text = f.read_bytes().decode("utf-8", errors="replace")  # keep \r as is
        m = _META_SOURCE.search(text)
        if not m:
            continue
        mp = _META_PATH.search(text)
        mt = _TITLE.search(text)
        pages.append(
            GeneratedPage(
                file=f,
                source=html.unescape(m.group(1)),
                path=html.unescape(mp.group(1)) if mp else "",
                title=html.unescape(mt.group(1)) if mt else "",
                html=text,
            )
        )
    return pages


def hexo_generate(site: Path, timeout: float = 600.0) -> HexoResult:
    """Run ``hexo generate`` in ``site``; collect post pages and warnings."""
    site = Path(site)
    env = dict(os.environ, NO_COLOR="1", FORCE_COLOR="0", LC_ALL="C.UTF-8", TZ="UTC")
    cmd = [shutil.which("node") or "node", str(site / "node_modules" / "hexo" / "bin" / "hexo"), "generate"]
    proc = subprocess.run(
        cmd, cwd=site, env=env, capture_output=True, text=True, encoding="utf-8",
        errors="replace", timeout=timeout,
    )
    out = _ANSI.sub("", proc.stdout)
    err = _ANSI.sub("", proc.stderr)
    warnings = [
        line.strip()
        for line in (out + "\n" + err).splitlines()
        if re.search(r"\b(WARN|ERROR|FATAL)\b", line)
    ]
    return HexoResult(
        returncode=proc.returncode,
        stdout=out,
        stderr=err,
        posts=_collect_posts(site / "public"),
        warnings=warnings,
    )
