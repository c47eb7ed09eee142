"""load_catalog: files and URLs, dispatch on content (not on the name)."""
from pathlib import Path

import pytest

from tidings.catalog import CatalogError, SourceSpec, load_catalog

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "catalog"


def test_dispatch_on_content_not_name(tmp_path):
    cases = {
        "api-namespace.json": "/sina/finance/china",
        "subscriptions-1.0.opml": None,
        "docs-generated-finance.md": "/sina/finance/china",
        "docs-docusaurus-finance.mdx": "/sina/finance",
    }
    for name, first_route in cases.items():
        odd = tmp_path / (name + ".txt")  # a misleading name
        odd.write_bytes(b"\xef\xbb\xbf\n  " + (FIX / name).read_bytes())  # BOM and leading space
        specs, warnings = load_catalog(str(odd))
        direct, direct_warnings = load_catalog(str(FIX / name))
        assert specs == direct and specs, name
        assert [w.line and w.line - 1 for w in warnings] == [w.line for w in direct_warnings], name
        assert specs[0].route == first_route, name


def test_a_url_through_the_http_layer_and_category_override(server):
    url = server.add("/finance.md", (FIX / "docs-vuepress-finance.md").read_text(encoding="utf-8"),
                     content_type="text/markdown; charset=utf-8")
    specs, warnings = load_catalog(url, category="财经")
    assert specs[0] == SourceSpec(category="财经", source="新浪财经", channel="新浪财经－国內", route="/sina/finance")
    assert len(warnings) == 3
    with pytest.raises(CatalogError, match=r"/missing.md: HTTP 404"):
        load_catalog(server.url("/missing.md"))


def test_a_catalogue_url_is_capped_on_decoded_bytes(server, monkeypatch):
    import gzip

    from tidings.catalog import load

    monkeypatch.setattr(load, "MAX_BYTES", 1 << 20)
    bomb = gzip.compress(b" " * (8 << 20))  # 8 KB that decode to 8 MiB
    url = server.add("/bomb.md", bomb, content_type="text/markdown", headers={"Content-Encoding": "gzip"})
    with pytest.raises(CatalogError, match="too large"):
        load_catalog(url)


def test_json_that_is_not_rsshub_and_missing_files(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"hello": "world"}', encoding="utf-8")
    specs, warnings = load_catalog(str(p))
    assert specs == [] and warnings[0].message == "namespace 'hello' has no routes object; skipped"
    with pytest.raises(CatalogError, match="nope.md"):
        load_catalog(str(tmp_path / "nope.md"))
