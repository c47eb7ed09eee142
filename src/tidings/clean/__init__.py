"""Cleaning third-party HTML and text (SPEC §5): pure functions, wired in by the pipeline.

    clean_html(html, base_url="", rules=None) -> str          sanitized, boilerplate-free HTML
    clean_text(s) -> str / repair_mojibake(s) -> str           XML-safe text, mojibake undone
    load_rules(extra=None) -> RuleSet                          shipped + user per-site rules
    pick_cover(html, candidates=(), base_url="", rules=None)   cover image URL or ''
    extract_article(html, url) / fetch_article(client, url)    full text (see fulltext.py)
    check_public_url(url, allow_private=False)                 SSRF guard, raises BlockedAddress

See docs/cleaning.md.
"""
from .images import pick_cover, usable_image_url
from .rules import Rule, RuleSet, RulesError, load_rules, shipped_rules
from .sanitize import clean_html
from .text import clean_text, repair_mojibake, strip_invalid_xml

__all__ = [
    "clean_html", "clean_text", "repair_mojibake", "strip_invalid_xml", "load_rules", "Rule",
    "RuleSet", "RulesError", "shipped_rules", "pick_cover", "usable_image_url",
    "extract_article", "fetch_article", "check_public_url", "BlockedAddress", "FetchError",
]

_FULLTEXT = {"extract_article", "fetch_article", "check_public_url", "BlockedAddress", "FetchError"}


def __getattr__(name: str):
    # fulltext imports httpx; keep `import tidings.clean` light for the ingest path.
    if name in _FULLTEXT:
        from . import fulltext

        return getattr(fulltext, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
