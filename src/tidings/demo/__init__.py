"""`tidings demo`: the whole pipeline on bundled sample feeds, served from a loopback HTTP server."""
from __future__ import annotations

import http.server
import os
import socketserver
import sys
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

DEMO_PORT = 18473  # fixed when free, so a second demo run sees the same feed URLs (and stores nothing twice)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _catalogue() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load(
        resources.files(__package__).joinpath("sources.yml").read_text(encoding="utf-8"))
    return entries


def serve_feeds() -> tuple[_Server, int]:
    """Serve feeds/<file> with the Content-Type sources.yml gives. Returns (server, port)."""
    feeds = resources.files(__package__).joinpath("feeds")
    types = {s["file"]: s.get("content_type", "application/xml") for s in _catalogue()}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.split("?")[0].removeprefix("/feeds/")
            if name not in types:
                self.send_error(404)
                return
            body = feeds.joinpath(name).read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", types[name])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    try:
        server = _Server(("127.0.0.1", DEMO_PORT), Handler)
    except OSError:
        server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def demo_config(port: int) -> dict[str, Any]:
    return {
        "site": {"title": "tidings 资讯聚合 · demo", "url": "http://127.0.0.1:8000/", "timezone": "Asia/Shanghai",
                 "language": "zh-CN", "description": "Sample news from bundled feeds"},
        "store": ".tidings/tidings.db",
        "hexo": {"dir": "blog", "front_matter": "seed", "clean": True},
        "site_dir": "public",
        "sources": [{"category": s["category"], "source": s["source"], "channel": s["channel"],
                     "url": f"http://127.0.0.1:{port}/feeds/{s['file']}", "limit": 50} for s in _catalogue()],
    }


# Where the sample feeds say their images are. The cleaner makes every image URL absolute, as it must for real feeds,
# so the demo turns these into site-root paths in the store before it builds: the images then come from the built
# site (and from the Hexo site's source/) on whatever host and port serve it.
MEDIA_URLS = ("http://127.0.0.1:8000/demo-media/", "https://127.0.0.1:8000/demo-media/")
MEDIA_PATH = "/demo-media/"


def localize_media(store_path: Path | str) -> int:
    """Point stored items' images and covers at MEDIA_PATH; returns the rows changed (0 once done)."""
    from ..store import open_store

    with open_store(store_path) as store:
        return store.replace_urls(MEDIA_URLS, MEDIA_PATH)


def _copy_media(target: Path) -> None:
    """The bundled images into target/, each written only when missing or different (Hexo and builds keep mtimes)."""
    media = resources.files(__package__).joinpath("media")
    target.mkdir(parents=True, exist_ok=True)
    for f in media.iterdir():
        if f.is_file():
            data, dest = f.read_bytes(), target / f.name
            if not dest.is_file() or dest.read_bytes() != data:
                dest.write_bytes(data)


def run_demo(out: Path, quiet: bool = False) -> int:
    from .. import config as config_mod
    from ..display import Display, summary
    from ..pipeline import run

    out.mkdir(parents=True, exist_ok=True)
    server, port = serve_feeds()
    try:
        cfg_path = out / "tidings.yml"
        text = "# written by `tidings demo`: the bundled sample feeds, served on loopback\n"
        text += yaml.safe_dump(demo_config(port), allow_unicode=True, sort_keys=False)
        cfg_path.write_text(text, encoding="utf-8")
        cfg = config_mod.load(cfg_path)
        display = Display(quiet)
        try:
            report = run(cfg, do_build=False, progress=display, force=True)  # a demo always fetches
        finally:
            display.stop()
    finally:
        server.shutdown()
        server.server_close()
    localize_media(cfg.store_path)
    display = Display(quiet)
    try:
        built = run(cfg, do_fetch=False, progress=display)
    finally:
        display.stop()
    report.hexo, report.site, report.seconds = built.hexo, built.site, report.seconds + built.seconds
    assert cfg.site_dir is not None and cfg.hexo is not None  # demo_config sets both
    _copy_media(cfg.resolve(cfg.site_dir) / "demo-media")
    _copy_media(cfg.resolve(cfg.hexo.dir) / "source" / "demo-media")
    print(summary(report, cfg))
    exe = sys.argv[0] if Path(sys.argv[0]).name == "tidings" else "tidings"
    try:
        exe = os.path.relpath(exe) if os.path.isabs(exe) and "/" in exe else exe
    except ValueError:
        pass
    print(f"\nOpen it with:  {exe} serve -c {cfg_path}   →  http://127.0.0.1:8000/  (another port: --port 8080)")
    return report.exit_code
