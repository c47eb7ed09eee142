"""RSSHub's route categories: the slug used in its route metadata and the English / Chinese page titles.

The slugs and names are those RSSHub uses for its documentation pages (docs.rsshub.app/routes/<slug>).
`popular` is a cross-cutting tag, not a subject, so it is the category only when a route has no other.
"""
from __future__ import annotations

from collections.abc import Iterable

# slug, English title, Chinese title
RSSHUB_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("popular", "Popular", "热门"),
    ("social-media", "Social Media", "社交媒体"),
    ("new-media", "New media", "新媒体"),
    ("traditional-media", "Traditional media", "传统媒体"),
    ("bbs", "BBS", "论坛"),
    ("blog", "Blog", "博客"),
    ("programming", "Programming", "编程"),
    ("design", "Design", "设计"),
    ("live", "Live", "直播"),
    ("multimedia", "Multimedia", "音视频"),
    ("picture", "Picture", "图片"),
    ("anime", "ACG", "二次元"),
    ("program-update", "Application Updates", "程序更新"),
    ("university", "University", "大学通知"),
    ("forecast", "Forecast and Alerts", "预报预警"),
    ("travel", "Travel", "出行旅游"),
    ("shopping", "Shopping", "购物"),
    ("game", "Gaming", "游戏"),
    ("reading", "Reading", "阅读"),
    ("government", "Government", "政务消息"),
    ("study", "Study", "学习"),
    ("journal", "Scientific Journal", "科学期刊"),
    ("finance", "Finance", "金融"),
    ("other", "Uncategorized", "其他"),
)

_BY_SLUG = {slug: (slug, en, zh) for slug, en, zh in RSSHUB_CATEGORIES}
_ALIAS: dict[str, str] = {}
for _slug, _en, _zh in RSSHUB_CATEGORIES:
    for _name in (_slug, _en, _zh):
        _ALIAS[_name.casefold()] = _slug


def category_slug(name: str) -> str | None:
    """The RSSHub slug for a slug, English or Chinese category name; None when it is not an RSSHub category."""
    return _ALIAS.get(name.strip().casefold())


def category_name(slug: str, lang: str | None = "zh") -> str:
    """Display name of an RSSHub category slug in `lang` ("zh", "en"); None or an unknown slug keeps the slug."""
    row = _BY_SLUG.get(slug)
    if row is None or lang is None:
        return slug
    return row[2] if lang.lower().startswith("zh") else row[1]


def pick_category(slugs: Iterable[str] | None) -> str | None:
    """The subject category of a route: its first category other than `popular`, else `popular`, else None."""
    cats = [c for c in (slugs or []) if isinstance(c, str) and c]
    for c in cats:
        if c != "popular":
            return c
    return cats[0] if cats else None


def category_matches(wanted: str, category: str) -> bool:
    """`--category` filter: equal ignoring case, or the same RSSHub category under another name (finance = 金融)."""
    a, b = wanted.strip(), category.strip()
    if a.casefold() == b.casefold():
        return True
    sa, sb = category_slug(a), category_slug(b)
    return sa is not None and sa == sb
