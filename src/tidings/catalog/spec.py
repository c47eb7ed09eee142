"""SourceSpec: one entry of the `sources:` list of tidings.yml, as the catalogue importers produce it."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit, urlunsplit

from ..errors import CatalogError as CatalogError  # raised here; defined with the others

DEFAULT_RSSHUB = "https://rsshub.app"  # the same default as tidings.config


class CatalogWarning(NamedTuple):
    """One skipped or doubtful entry: `line` is 1-based in the input, None where the input has no lines (JSON)."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source as written in tidings.yml: exactly one of `route` (an RSSHub path) or `url`."""

    category: str = ""
    source: str = ""
    channel: str = ""
    route: str | None = None
    url: str | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        for name in ("category", "source", "channel"):
            value = getattr(self, name)
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise ValueError(f"{name} must be text, not {type(value).__name__}")
            object.__setattr__(self, name, " ".join(value.split()))
        route = self.route.strip() if isinstance(self.route, str) else self.route
        url = self.url.strip() if isinstance(self.url, str) else self.url
        route = route or None
        url = url or None
        if (route is None) == (url is None):
            raise ValueError("a source needs exactly one of `route` or `url`")
        if route is not None:
            if not route.startswith("/"):
                raise ValueError(f"a route starts with '/': {route!r}")
            if any(c.isspace() for c in route):
                raise ValueError(f"a route has no spaces: {route!r}")
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
                raise ValueError(f"not an http(s) URL: {url!r}")
        if self.limit is not None:
            if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
                raise ValueError(f"limit must be a positive integer, not {self.limit!r}")
        object.__setattr__(self, "route", route)
        object.__setattr__(self, "url", url)

    # -- conversions ---------------------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> SourceSpec:
        """Build from a tidings.yml source mapping (extra keys such as `timezone` are ignored)."""
        limit = m.get("limit")
        return cls(
            category=str(m.get("category") or ""),
            source=str(m.get("source") or ""),
            channel=str(m.get("channel") or ""),
            route=m.get("route") or None,
            url=m.get("url") or None,
            limit=limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
        )

    def to_mapping(self) -> dict[str, Any]:
        """The tidings.yml mapping, keys in the documented order; empty names and an unset limit are left out."""
        out: dict[str, Any] = {}
        for name in ("category", "source", "channel"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.route is not None:
            out["route"] = self.route
        else:
            out["url"] = self.url
        if self.limit is not None:
            out["limit"] = self.limit
        return out

    def feed_url(self, rsshub_base: str = DEFAULT_RSSHUB) -> str:
        """The URL fetched: `url`, or `route` resolved against the RSSHub base exactly as tidings.config does."""
        if self.url is not None:
            return self.url
        return resolve_route(self.route or "/", rsshub_base)

    @property
    def label(self) -> str:
        return " › ".join(p for p in (self.category, self.source, self.channel) if p) or (self.route or self.url or "")


class ParseResult(NamedTuple):
    """What every importer returns: unpacks as `specs, warnings = parse_…(…)`."""

    specs: list[SourceSpec]
    warnings: list[CatalogWarning]


@dataclass(slots=True)
class _Collector:
    specs: list[SourceSpec] = field(default_factory=list)
    warnings: list[CatalogWarning] = field(default_factory=list)

    def warn(self, line: int | None, message: str) -> None:
        self.warnings.append(CatalogWarning(line, message))

    def add(self, line: int | None, what: str, **kw: Any) -> SourceSpec | None:
        try:
            spec = SourceSpec(**kw)
        except ValueError as e:
            self.warn(line, f"{what}: {e}; skipped")
            return None
        self.specs.append(spec)
        return spec

    def result(self) -> ParseResult:
        return ParseResult(self.specs, self.warnings)


def resolve_route(route: str, rsshub_base: str) -> str:
    base = (rsshub_base or DEFAULT_RSSHUB).rstrip("/") + "/"
    return urljoin(base, route.lstrip("/"))


def normalize_route(route: str) -> str:
    r = route.strip()
    if not r.startswith("/"):
        r = "/" + r
    return r.rstrip("/") or "/"


def normalize_url(url: str) -> str:
    """Identity of a feed URL for duplicate checks: scheme and host lower-cased, trailing slashes dropped."""
    u = url.strip()
    try:
        p = urlsplit(u)
    except ValueError:
        return u.rstrip("/")
    path = p.path.rstrip("/")
    return urlunsplit((p.scheme.lower(), p.netloc.lower(), path, p.query, p.fragment))
