"""Cleaning third-party HTML and text (SPEC §5): pure functions, wired in by the pipeline.

    clean_html(html, base_url="", rules=None) -> str          sanitized, boilerplate-free HTML
    clean_content(content, base_url="", rules=None)           (content less XML-forbidden characters,
                                                               clean_html of it): what ingest stores
    clean_text(s) -> str / repair_mojibake(s) -> str           XML-safe text, mojibake undone
    load_rules(extra=None) -> RuleSet                          shipped + user per-site rules
    pick_cover(html, candidates=(), base_url="", rules=None, *, cleaned=False)
                                                               cover image URL or ''; cleaned=True:
                                                               html is clean_html's output
    extract_article(html, url) / fetch_article(client, url)    full text (see fulltext.py; its HTTP,
                                                               SSRF guard included, is tidings.http)

See docs/cleaning.md.
"""
from typing import TYPE_CHECKING

from .images import pick_cover, usable_image_url
from .rules import Rule, RulesError, RuleSet, load_rules, shipped_rules
from .sanitize import clean_content, clean_html
from .text import clean_text, repair_mojibake, strip_invalid_xml

if TYPE_CHECKING:  # imported lazily at run time, by __getattr__ below
    from .fulltext import extract_article, fetch_article

__all__ = [
    "Rule",
    "RuleSet",
    "RulesError",
    "clean_content",
    "clean_html",
    "clean_text",
    "extract_article",
    "fetch_article",
    "load_rules",
    "pick_cover",
    "repair_mojibake",
    "shipped_rules",
    "strip_invalid_xml",
    "usable_image_url",
]

_FULLTEXT = {"extract_article", "fetch_article"}


def __getattr__(name: str) -> object:
    # fulltext imports httpx; keep `import tidings.clean` light for the ingest path.
    if name in _FULLTEXT:
        from . import fulltext

        return getattr(fulltext, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
