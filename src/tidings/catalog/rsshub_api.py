"""Import sources from a running RSSHub instance's route registry (`GET /api/namespace`).

RSSHub answers `/api/namespace` with its whole registry, an object keyed by namespace::

    {"sina": {"name": "新浪", "url": "finance.sina.com.cn", "categories": [...], "zh": {"name": …},
              "routes": {"/finance/china/:lid?": {"path": "/finance/china/:lid?", "name": "财经－国內",
                                                  "example": "/sina/finance/china", "categories": ["traditional-media"],
                                                  "parameters": {…}, "features": {…}, "maintainers": […], …}},
              "apiRoutes": {}}, …}

`/api/namespace/<ns>` (one namespace object, not keyed) and `/api/category/<slug>` (same shape as
`/api/namespace`, filtered) are read too. A route's `example` (already prefixed with its namespace) becomes
`route`; a route without an example has no concrete feed and is skipped with a warning.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .categories import category_name, pick_category
from .spec import ParseResult, _Collector


def parse_rsshub_api(data: Any, *, category: str | None = None, lang: str | None = "zh") -> ParseResult:
    """Sources from RSSHub's `/api/namespace` JSON (already decoded); returns `(specs, warnings)`.

    category = `category` if given, else the route's first RSSHub category other than `popular` (falling back to
    the namespace's, then `other`), named in `lang` ("zh" → 金融, "en" → Finance, None → the slug `finance`);
    source = the namespace's `name` (its `zh.name` when lang is Chinese and one is given; the namespace key when
    the name is missing or "Unknown"); channel = the route's `name` (likewise localised). Warnings have no line.
    """
    out = _Collector()
    if not isinstance(data, Mapping):
        out.warn(None, "not an RSSHub /api/namespace object; nothing imported")
        return out.result()
    if isinstance(data.get("routes"), Mapping) and isinstance(data.get("name"), str):
        namespaces: Mapping[str, Any] = {"": data}  # /api/namespace/<ns>
    elif isinstance(data.get("data"), Mapping) and all(
            isinstance(v, Mapping) and isinstance(v.get("routes"), list) for v in data["data"].values()):
        out.warn(None, "this is RSSHub's old /api/routes list, which has route patterns but no examples or names; "
                       "use /api/namespace of an RSSHub 2024 or later instance")
        return out.result()
    else:
        namespaces = data
    for ns, info in namespaces.items():
        if not isinstance(info, Mapping) or not isinstance(info.get("routes"), Mapping):
            out.warn(None, f"namespace {ns!r} has no routes object; skipped")
            continue
        source = _localized(info, lang) or ns
        if source == "Unknown":
            source = ns
        ns_cat = pick_category(info.get("categories"))
        default_cat = ns_cat
        if default_cat is None:
            for r in info["routes"].values():
                if isinstance(r, Mapping) and pick_category(r.get("categories")):
                    default_cat = pick_category(r.get("categories"))
                    break
        for path, route in info["routes"].items():
            where = f"/{ns}{path}" if ns else str(path)
            if not isinstance(route, Mapping):
                out.warn(None, f"route {where} is not an object; skipped")
                continue
            example = route.get("example")
            if not isinstance(example, str) or not example.strip():
                out.warn(None, f"route {where} has no example; skipped")
                continue
            example = example.strip()
            if not example.startswith("/"):
                example = "/" + example
            slug = pick_category(route.get("categories")) or default_cat or "other"
            cat = category if category is not None else category_name(slug, lang)
            channel = _localized(route, lang) or str(path)
            out.add(None, f"route {where}", category=cat, source=source, channel=channel, route=example)
    return out.result()


def _localized(obj: Mapping[str, Any], lang: str | None) -> str:
    if lang:
        for key in (lang, lang.split("-")[0]):
            sub = obj.get(key)
            sub_name = sub.get("name") if isinstance(sub, Mapping) else None
            if isinstance(sub_name, str) and sub_name.strip():
                return sub_name.strip()
    name = obj.get("name")
    return name.strip() if isinstance(name, str) else ""
