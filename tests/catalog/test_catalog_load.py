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


def test_injected_fetch_and_category_override():
    seen = []

    def fetch(url):
        seen.append(url)
        return (FIX / "docs-vuepress-finance.md").read_text(encoding="utf-8")  # str is accepted too

    specs, warnings = load_catalog("https://docs.example.org/finance.md", fetch=fetch, category="财经")
    assert seen == ["https://docs.example.org/finance.md"]
    assert specs[0] == SourceSpec(category="财经", source="新浪财经", channel="新浪财经－国內", route="/sina/finance")
    assert len(warnings) == 3


def test_json_that_is_not_rsshub_and_missing_files(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"hello": "world"}', encoding="utf-8")
    specs, warnings = load_catalog(str(p))
    assert specs == [] and warnings[0].message == "namespace 'hello' has no routes object; skipped"
    with pytest.raises(CatalogError, match="nope.md"):
        load_catalog(str(tmp_path / "nope.md"))
