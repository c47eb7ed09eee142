"""`tidings serve`: the built site over HTTP with Python's http.server (for previewing, not production)."""
from __future__ import annotations

import functools
import http.server
from collections.abc import Callable
from pathlib import Path
from typing import Any


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript", ".json": "application/json", ".xml": "application/xml",
        ".css": "text/css", ".html": "text/html; charset=utf-8", ".wasm": "application/wasm",
        ".pagefind": "application/octet-stream", ".pf_meta": "application/octet-stream",
        ".pf_index": "application/octet-stream", ".pf_fragment": "application/octet-stream",
        ".pf_filter": "application/octet-stream",
    }

    def log_message(self, format: str, *args: Any) -> None:
        if getattr(self.server, "verbose", True):
            super().log_message(format, *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        page = Path(self.directory) / "404.html"
        if code == 404 and page.is_file():
            body = page.read_bytes()
            self.send_response(404, message)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        super().send_error(code, message, explain)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Callable[..., _Handler], verbose: bool) -> None:
        super().__init__(address, handler)
        self.verbose = verbose  # log each request


def make_server(out_dir: Path, port: int = 8000, host: str = "127.0.0.1", verbose: bool = True) -> _Server:
    """A ThreadingHTTPServer for out_dir (port 0 = any free port: read it from server.server_address)."""
    return _Server((host, port), functools.partial(_Handler, directory=str(out_dir)), verbose)


def serve(out_dir: Path, port: int = 8000, host: str = "127.0.0.1") -> None:
    """Serve out_dir until interrupted (blocking); prints the URL."""
    out_dir = Path(out_dir)
    if not (out_dir / "index.html").is_file():
        raise FileNotFoundError(f"{out_dir} has no index.html: build the site first")
    with make_server(out_dir, port, host) as server:
        h, p = server.server_address[:2]
        if isinstance(h, bytes):  # never for an AF_INET server; typeshed allows it
            h = h.decode()
        print(f"Serving {out_dir} at http://{h}:{p}/ (Ctrl-C to stop)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
