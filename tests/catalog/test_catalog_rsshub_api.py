"""RSSHub /api/namespace JSON → SourceSpec, also fetched from a local HTTP server."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tidings.catalog import CatalogError, CatalogWarning, SourceSpec, load_catalog, parse_rsshub_api

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "catalog"
API = FIX / "api-namespace.json"


def S(category, source, channel, route):
    return SourceSpec(category=category, source=source, channel=channel, route=route)


EXPECTED = [
    S("金融", "新浪", "财经－国內", "/sina/finance/china"),
    S("传统媒体", "新浪", "滚动新闻", "/sina/rollnews"),
    S("金融", "财联社", "电报", "/cls/telegraph"),  # no route categories: the namespace's
    S("金融", "财联社", "深度", "/cls/depth/1000"),
    S("金融", "华尔街见闻", "实时快讯", "/wallstreetcn/live"),  # zh names preferred
    S("热门", "哔哩哔哩 bilibili", "综合热门", "/bilibili/popular/all"),  # only "popular": that is the category
    S("其他", "zaobao", "即时新闻", "/zaobao/realtime/china"),  # name "Unknown" → namespace; no category → other
]
EXPECTED_WARNINGS = [CatalogWarning(None, "route /sina/discovery/:type/:subtype? has no example; skipped")]


def test_parse_api_namespace_fixture():
    specs, warnings = parse_rsshub_api(json.loads(API.read_text(encoding="utf-8")))
    assert specs == EXPECTED
    assert warnings == EXPECTED_WARNINGS


def test_english_names_and_raw_slugs():
    data = json.loads(API.read_text(encoding="utf-8"))
    en = parse_rsshub_api(data, lang="en").specs
    assert en[0] == S("Finance", "新浪", "财经－国內", "/sina/finance/china")
    assert en[4] == S("Finance", "WallStreetCN", "Live", "/wallstreetcn/live")
    raw = parse_rsshub_api(data, lang=None).specs
    assert [s.category for s in raw] == ["finance", "traditional-media", "finance", "finance", "finance",
                                         "popular", "other"]
    assert {s.category for s in parse_rsshub_api(data, category="订阅").specs} == {"订阅"}


def test_one_namespace_answer_and_old_routes_api():
    data = json.loads(API.read_text(encoding="utf-8"))
    specs, warnings = parse_rsshub_api(data["cls"])  # /api/namespace/cls
    assert specs == EXPECTED[2:4] and warnings == []
    old = {"status": "success", "data": {"bilibili": {"routes": ["/bilibili/bangumi/:seasonid"]}}, "message": "1"}
    specs, warnings = parse_rsshub_api(old)
    assert specs == [] and len(warnings) == 1 and "/api/routes" in warnings[0].message
    specs, warnings = parse_rsshub_api(["not", "an", "object"])
    assert specs == [] and warnings == [CatalogWarning(None, "not an RSSHub /api/namespace object; nothing imported")]


class _Handler(BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):  # noqa: N802
        body = self.routes.get(self.path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    handler = type("H", (_Handler,), {"routes": {
        "/api/namespace": API.read_bytes(),
        "/docs/finance.md": (FIX / "docs-vuepress-finance.md").read_bytes(),
        "/subscriptions.opml": (FIX / "subscriptions-2.0.opml").read_bytes(),
    }})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_load_catalog_from_a_live_api_namespace(server):
    specs, warnings = load_catalog(f"{server}/api/namespace")
    assert specs == EXPECTED
    assert warnings == EXPECTED_WARNINGS


def test_load_catalog_over_http_dispatches_on_content(server):
    md_specs, _ = load_catalog(f"{server}/docs/finance.md")
    assert md_specs[0] == S("金融", "新浪财经", "新浪财经－国內", "/sina/finance")
    opml_specs, _ = load_catalog(f"{server}/subscriptions.opml")
    assert opml_specs[0].url == "https://rsshub.app/cctv/world"


def test_load_catalog_http_error_is_a_catalog_error(server):
    with pytest.raises(CatalogError, match="HTTP 404"):
        load_catalog(f"{server}/api/nothing")


def test_load_catalog_unreachable_is_a_catalog_error():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(CatalogError, match=f"127.0.0.1:{port}"):
        load_catalog(f"http://127.0.0.1:{port}/api/namespace")
