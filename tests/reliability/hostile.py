"""Serve the hostile corpus (tests/fixtures/hostile/cases.yml) from a local FeedServer.

`load_cases()` reads the manifest; `serve(server, case)` registers the case's routes (HTTP behaviour,
content encodings, redirect chains) and returns the URL a source should use; `body_of(case)` builds
the body (from its file, or from `gen:` for bodies too big to keep in git).
"""
from __future__ import annotations

import gzip
import json
import socket
import time
import zlib
from pathlib import Path

import yaml
from feedserver import FeedServer, Route

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
_ITEM_DATE = "<pubDate>Mon, 14 Mar 2022 06:22:47 GMT</pubDate>"


def load_cases() -> list[dict]:
    return yaml.safe_load((HOSTILE / "cases.yml").read_text(encoding="utf-8"))["cases"]


# --- bodies ----------------------------------------------------------------------------------------

def _rss(items: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Hostile</title>'
            f"<link>http://news.example.com/</link>{items}</channel></rss>").encode()


def _rss_items(n: int) -> bytes:
    return _rss("".join(f"<item><title>Item {i}</title><guid>g{i}</guid>"
                        f"<pubDate>Mon, 14 Mar 2022 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} GMT</pubDate>"
                        "</item>" for i in range(n)))


def _atom_entries(n: int) -> bytes:
    entries = "".join(f"<entry><title>E{i}</title><id>urn:e{i}</id><updated>2022-03-14T06:22:47Z</updated></entry>"
                      for i in range(n))
    return (f'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:f</id>{entries}</feed>').encode()


def _rdf_items(n: int) -> bytes:
    items = "".join(f'<item rdf:about="http://n.example.com/{i}"><title>R{i}</title>'
                    f"<link>http://n.example.com/{i}</link></item>" for i in range(n))
    return ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
            f'<channel rdf:about="http://n.example.com/"><title>t</title></channel>{items}</rdf:RDF>').encode()


def _json_items(n: int) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t",
                       "items": [{"id": str(i), "title": f"J{i}"} for i in range(n)]}).encode()


def _fill(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit.encode("utf-8")))


def body_of(case: dict) -> bytes | None:
    gen = case.get("gen")
    if gen is None:
        return (HOSTILE / case["file"]).read_bytes() if "file" in case else None
    kind = gen["kind"]
    if kind == "expand":
        body = (HOSTILE / case["file"]).read_bytes()
        for i, (unit, count) in enumerate(gen["repeat"]):
            body = body.replace(f"@@{i}@@".encode(), unit.encode("utf-8") * count)
        return body
    if kind == "rss_title":
        return _rss(f"<item><title>{_fill('标题', gen['bytes'])}</title><guid>t</guid>{_ITEM_DATE}</item>")
    if kind == "rss_big_content":
        para = "<p>" + "lorem ipsum dolor sit amet " * 40 + "</p>\n"
        return _rss(f"<item><title>Big</title><guid>b</guid>{_ITEM_DATE}"
                    f"<description><![CDATA[{_fill(para, gen['bytes'])}]]></description></item>")
    if kind == "rss_many_images":
        imgs = "".join(f'<p><img src="http://img.example.com/{i}.jpg" data-src="/lazy/{i}.jpg"></p>'
                       for i in range(gen["count"]))
        return _rss(f"<item><title>Images</title><guid>i</guid>{_ITEM_DATE}"
                    f"<description><![CDATA[{imgs}]]></description></item>")
    if kind == "rss_items":
        return _rss_items(gen["count"])
    if kind == "atom_entries":
        return _atom_entries(gen["count"])
    if kind == "rdf_items":
        return _rdf_items(gen["count"])
    if kind == "json_items":
        return _json_items(gen["count"])
    if kind == "xml_repeat":
        fill = _fill(gen["unit"], gen["bytes"]).encode()
        if gen.get("inside"):
            return _rss(f"<item><title>x</title><guid>x</guid><description>{fill.decode()}</description></item>")
        return b'<rss version="2.0"><channel><title>t</title>' + fill + b"</channel></rss>"
    if kind == "json_repeat":
        fill = _fill(gen["unit"], gen["bytes"]).rstrip(",")
        if gen.get("tags"):
            return ('{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1","tags":[' + fill + "]}]}").encode()
        return ('{"version":"https://jsonfeed.org/version/1.1","items":[' + fill + "]}").encode()
    if kind == "file":
        return (HOSTILE / gen["path"]).read_bytes()
    if kind == "zeros":
        return None  # compressed on the fly by _encode, never held decompressed
    raise ValueError(f"unknown generator {kind!r}")


# --- content encodings -----------------------------------------------------------------------------

def _zeros_compressed(total: int, wbits: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    chunk = b"\0" * (8 << 20)
    out = [c.compress(chunk) for _ in range(total // len(chunk))]
    out.append(c.flush())
    return b"".join(out)


def _encode(case: dict, body: bytes | None, encoding: str) -> tuple[bytes, str]:
    """(bytes on the wire, Content-Encoding header)."""
    gen = case.get("gen") or {}
    if gen.get("kind") == "zeros":
        total = gen["bytes"]
        if encoding == "gzip":
            return _zeros_compressed(total, 31), "gzip"
        if encoding == "deflate":
            return _zeros_compressed(total, 15), "deflate"
        if encoding == "gzip, gzip":
            return gzip.compress(_zeros_compressed(total, 31), 9), "gzip, gzip"
        raise ValueError(encoding)
    assert body is not None
    if encoding in ("gzip", "x-gzip"):
        return gzip.compress(body), encoding
    if encoding == "deflate":
        return zlib.compress(body), "deflate"
    if encoding == "deflate-raw":
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        return c.compress(body) + c.flush(), "deflate"
    if encoding == "br":
        import brotli

        return brotli.compress(body), "br"
    if encoding == "gzip, br":
        import brotli

        return brotli.compress(gzip.compress(body)), "gzip, br"
    if encoding == "br-raw":
        return body, "br"
    if encoding == "gzip-corrupt":
        return body, "gzip"
    if encoding == "gzip-truncated":
        z = gzip.compress(body)
        return z[: len(z) // 2], "gzip"
    return body, encoding  # utf-8, zstd...: sent as they are, with that header


# --- misbehaving servers ---------------------------------------------------------------------------

def _endless(h) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    chunk = b"%x\r\n%s\r\n" % (65536, b"<item>" * (65536 // 6) + b"<ite")
    try:
        for _ in range(4096):  # 256 MiB at most, in case the client never stops
            h.wfile.write(chunk)
    except OSError:
        pass


def _declared_1g(h) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.send_header("Content-Length", str(1 << 30))
    h.end_headers()
    try:
        h.wfile.write(b"<rss>")
        h.wfile.flush()
        time.sleep(3)
    except OSError:
        pass


def _hang(h) -> None:
    time.sleep(30)


def _slow_headers(h) -> None:
    try:
        for c in b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 0\r\n\r\n":
            h.wfile.write(bytes([c]))
            h.wfile.flush()
            time.sleep(0.3)
    except OSError:
        pass


def _reset(h) -> None:
    h.close_connection = True
    try:
        h.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _raw(data: bytes):
    def handler(h) -> None:
        h.close_connection = True
        try:
            h.wfile.write(data)
            h.wfile.flush()
        except OSError:
            pass
    return handler


def _huge_header(h) -> None:
    h.send_response(200)
    h.send_header("X-Big", "a" * 200_000)
    h.send_header("Content-Length", "0")
    h.end_headers()


def _many_headers(h) -> None:
    h.send_response(200)
    for i in range(20_000):
        h.send_header(f"X-H{i}", "v")
    h.send_header("Content-Length", "0")
    h.end_headers()


BEHAVIOURS = {
    "endless": _endless,
    "declared-1g": _declared_1g,
    "hang": _hang,
    "slow-headers": _slow_headers,
    "reset": _reset,
    "garbage": _raw(b"HELLO, THIS IS NOT HTTP\r\n\r\n"),
    "truncated": _raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 1000\r\n\r\n<rss>"),
    "huge-header": _huge_header,
    "many-headers": _many_headers,
    "bad-chunk": _raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
    "bad-content-length": _raw(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n<rss/>"),
}


def serve(server: FeedServer, case: dict) -> str:
    """Register the case on `server`; returns the feed URL."""
    path = f"/c/{case['name']}"
    http = dict(case.get("http") or {})
    body = body_of(case)
    if body is not None and case.get("substitute"):
        body = body.replace(b"{server}", server.url("").encode())
    behaviour = http.pop("behaviour", None)
    if behaviour:
        server.routes[path] = Route(handler=BEHAVIOURS[behaviour])
        return server.url(path)
    headers = {k: v.replace("{self}", path) for k, v in (http.pop("headers", None) or {}).items()}
    encoding = http.pop("encoding", None)
    if encoding:
        body, header = _encode(case, body, encoding)
        headers["Content-Encoding"] = header
    redirects = http.pop("redirects", 0)
    final = path if not redirects else f"{path}/{redirects}"
    for i in range(redirects):
        here = path if i == 0 else f"{path}/{i}"
        server.routes[here] = Route(status=302, headers={"Location": f"{path}/{i + 1}"})
    kw = {"content_type": http.pop("content_type", "application/rss+xml; charset=utf-8")}
    if "status" in http:
        kw["status"] = http.pop("status")
    if "trickle" in http:
        kw["trickle"] = http.pop("trickle")
    assert not http, f"{case['name']}: unknown http keys {sorted(http)}"
    server.routes[final] = Route(body=body or b"", headers=headers, **kw)
    return server.url(path)
