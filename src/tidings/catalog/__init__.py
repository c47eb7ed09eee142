"""Import and export of source lists: RSSHub docs / API, OPML; appending to tidings.yml.

    specs, warnings = load_catalog("finance.md")            # or an http(s) URL, OPML, /api/namespace JSON
    result = append_sources(Path("tidings.yml"), specs, category="金融", route="/sina")
    opml = export_opml(specs, "https://rsshub.app", "资讯聚合")

See docs/catalog.md.
"""
from .categories import RSSHUB_CATEGORIES, category_matches, category_name, category_slug
from .config_edit import AddResult, append_sources, read_config_sources, select_specs
from .load import http_get, load_catalog, parse_catalog
from .opml import TIDINGS_NS, export_opml, parse_opml
from .rsshub_api import parse_rsshub_api
from .rsshub_docs import parse_rsshub_docs
from .spec import CatalogError, CatalogWarning, ParseResult, SourceSpec

__all__ = [
    "AddResult", "CatalogError", "CatalogWarning", "ParseResult", "RSSHUB_CATEGORIES", "SourceSpec", "TIDINGS_NS",
    "append_sources", "category_matches", "category_name", "category_slug", "export_opml", "http_get",
    "load_catalog", "parse_catalog", "parse_opml", "parse_rsshub_api", "parse_rsshub_docs", "read_config_sources",
    "select_specs",
]
