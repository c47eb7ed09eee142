"""tidings.yml: pydantic models, loading, and errors that name the file, the line and the key."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from .errors import ConfigError, FilterError
from .filters import ItemFilter
from .model import Source
from .store import is_url

MAX_NAME_BYTES = 180


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r} (use an IANA name like Asia/Shanghai)") from None
    return v


def _check_http_url(v: str) -> str:
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {v!r}")
    return v


class SiteSettings(_Strict):
    title: str = "tidings"
    url: str = "http://localhost:8000/"
    timezone: str = "UTC"
    language: str = "en"
    description: str = ""
    per_page: int = Field(default=30, ge=1, le=1000)
    search: bool = True

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return _check_zone(v)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_http_url(v)


class HexoSettings(_Strict):
    dir: Path
    front_matter: Literal["seed", "hexo"] = "seed"
    clean: bool = True


class FetchSettings(_Strict):
    concurrency: int = Field(default=16, ge=1, le=512)
    timeout: float = Field(default=20.0, gt=0)
    max_bytes: int = Field(default=15 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    retries: int = Field(default=2, ge=0, le=10)
    user_agent: str = "tidings/0.1 (+https://github.com/tidings)"
    per_host: int = Field(default=4, ge=1, le=256)  # politeness: at most this many requests to one host at once
    allow_private: bool = False  # full-text requests may go to loopback/private addresses
    full_text_min_chars: int = Field(default=400, ge=0)  # `full_text: auto` fetches items with less text than this
    interval: float = Field(default=1800, ge=60)  # seconds between runs when nothing else is known (cron period)
    min_interval: float = Field(default=600, ge=0)  # never fetch one source more often, whatever it asks
    max_interval: float = Field(default=86400, ge=60)
    backoff_cap: float = Field(default=86400, ge=60)  # longest wait after failures (a source is never disabled)


FilterRule = str | dict[str, str]


def _check_filters(rules: list[FilterRule]) -> list[FilterRule]:
    from .filters import compile_rule

    for rule in rules:
        try:
            compile_rule(rule)
        except FilterError as e:
            raise ValueError(str(e)) from None
    return rules


class StoriesSettings(_Strict):
    """Near-duplicate grouping (SPEC §10): items of several sources that report one event become one story."""

    enabled: bool = True
    threshold: float = Field(default=0.4, gt=0, le=1)  # estimated Jaccard of title + lead shingles


class TagsSettings(_Strict):
    """Keywords per item (SPEC §10), stored outside the content hash."""

    enabled: bool = True
    max: int = Field(default=5, ge=1, le=20)
    min_items_for_page: int = Field(default=3, ge=1)  # the site gives a tag a page and feeds from this many items


class FilterSettings(_Strict):
    """`include` / `exclude` rules (see filters.py): globally under `filters:`, and on each source."""

    include: list[FilterRule] = Field(default_factory=list)
    exclude: list[FilterRule] = Field(default_factory=list)

    @field_validator("include", "exclude")
    @classmethod
    def _rules_ok(cls, v: list[FilterRule]) -> list[FilterRule]:
        return _check_filters(v)


class SourceSettings(FilterSettings):
    url: str | None = None
    route: str | None = None
    category: str = ""
    source: str = ""
    channel: str = ""
    limit: int = Field(default=15, ge=1, le=10000)
    timezone: str | None = None
    full_text: bool | Literal["auto"] = False
    retain_days: float | None = Field(default=None, gt=0)
    retain_per_source: int | None = Field(default=None, ge=1)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        return v if v is None else _check_zone(v)

    @field_validator("category", "source", "channel")
    @classmethod
    def _name_fits(cls, v: str) -> str:
        # Hexo makes a directory of every category level (public/categories/…): keep each one well
        # under the 255-byte file-name limit of common file systems.
        if len(v.encode("utf-8")) > MAX_NAME_BYTES:
            raise ValueError(f"longer than {MAX_NAME_BYTES} bytes (it becomes a directory name)")
        return v

    @field_validator("url")
    @classmethod
    def _url_ok(cls, v: str | None) -> str | None:
        return v if v is None else _check_http_url(v)

    @field_validator("route")
    @classmethod
    def _route_ok(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("/"):
            raise ValueError(f"a route starts with '/': {v!r}")
        return v

    @model_validator(mode="after")
    def _one_address(self) -> SourceSettings:
        if not self.url and not self.route:
            raise ValueError("a source needs `url` or `route`")
        if self.url and self.route:
            raise ValueError("a source has either `url` or `route`, not both")
        return self


class Config(_Strict):
    site: SiteSettings = Field(default_factory=SiteSettings)
    rsshub: str = "https://rsshub.app"
    store: str = ".tidings/tidings.db"
    hexo: HexoSettings | None = None
    site_dir: Path | None = None
    theme_dir: Path | None = None
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    rules: dict[str, Any] = Field(default_factory=dict)
    filters: FilterSettings = Field(default_factory=FilterSettings)
    retain_days: float | None = Field(default=None, gt=0)  # default for every source; none = keep forever
    retain_per_source: int | None = Field(default=None, ge=1)
    stories: StoriesSettings = Field(default_factory=StoriesSettings)
    tags: TagsSettings = Field(default_factory=TagsSettings)
    stale_days: float = Field(default=7, gt=0)  # `sources check` flags a source that published nothing this long
    sources: list[SourceSettings] = Field(default_factory=list)

    @field_validator("rsshub")
    @classmethod
    def _rsshub(cls, v: str) -> str:
        return _check_http_url(v)

    @field_validator("rules")
    @classmethod
    def _rules(cls, v: dict[str, Any]) -> dict[str, Any]:
        from .clean import RulesError, load_rules

        try:
            load_rules(v or None)
        except RulesError as e:
            raise ValueError(str(e)) from None
        return v

    # Set by load(): the directory relative paths are resolved against.
    base_dir: Path = Field(default=Path("."), exclude=True, init=False)

    def resolve(self, p: Path | str) -> Path:
        p = Path(p)
        return p if p.is_absolute() else self.base_dir / p

    @property
    def store_path(self) -> Path | str:
        """The store as open_store takes it: a PostgreSQL URL as given, or the SQLite file's resolved path."""
        return self.store if is_url(self.store) else self.resolve(self.store)

    def feed_sources(self) -> list[Source]:
        out = []
        base = self.rsshub.rstrip("/") + "/"
        for s in self.sources:
            url = s.url or urljoin(base, (s.route or "").lstrip("/"))  # a source has one of the two
            host = urlsplit(url).hostname or url
            name = s.source or host
            out.append(Source(url=url, category=s.category or "Uncategorized", source=name, channel=s.channel,
                              limit=s.limit, timezone=s.timezone or self.site.timezone,
                              full_text=s.full_text,
                              retain_days=s.retain_days or self.retain_days,
                              retain_per_source=s.retain_per_source or self.retain_per_source,
                              item_filter=ItemFilter.from_rules(self.filters.include + s.include,
                                                                self.filters.exclude + s.exclude)))
        return out


def _node_at(root: yaml.Node | None, loc: tuple[int | str, ...]) -> yaml.Node | None:
    """Follow a pydantic error location through the YAML node tree; the deepest node found."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
            if nxt is None:
                # an unknown key: point at the key itself
                key = next((k for k, _ in node.value if k.value == part), None)
                return key or node
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
    return node


def _describe(err: ErrorDetails) -> tuple[str, str]:
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "literal[")))]
    key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    return key, msg


def load(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found (create one with `tidings init`)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    return parse(text, path)


# libyaml when PyYAML was built with it: the pure-Python reader is slow on thousands of sources (docs/scaling.md).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (line numbers for errors) and the data built from that same tree: the text is read once."""
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    finally:
        loader.dispose()


def parse(text: str, path: Path) -> Config:
    try:
        root, data = _compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{path}{line}: invalid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the file must be a mapping of settings (site:, sources:, …)")
    _apply_env(data)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        key, msg = _describe(err)
        node = _node_at(root, err["loc"])
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise ConfigError(f"{path}{line}: {key}: {msg}{more}") from None
    cfg.base_dir = path.resolve().parent
    _check_duplicates(cfg, root, path)
    return cfg


def _apply_env(data: dict[str, Any]) -> None:
    """Environment overrides for values that may be secret or differ per machine."""
    if os.environ.get("TIDINGS_RSSHUB"):
        data["rsshub"] = os.environ["TIDINGS_RSSHUB"]
    if os.environ.get("TIDINGS_STORE"):
        data["store"] = os.environ["TIDINGS_STORE"]


def _check_duplicates(cfg: Config, root: yaml.Node | None, path: Path) -> None:
    seen: dict[str, int] = {}
    for i, s in enumerate(cfg.feed_sources()):
        if s.url in seen:
            node = _node_at(root, ("sources", i))
            line = f":{node.start_mark.line + 1}" if node is not None else ""
            raise ConfigError(f"{path}{line}: sources[{i}]: same feed as sources[{seen[s.url]}] ({s.url})")
        seen[s.url] = i


INIT_TEMPLATE = """\
# tidings configuration — see README.md. Paths are relative to this file.
site:
  title: 资讯聚合                    # site title
  url: https://news.example.com/     # absolute links in site feeds and sitemap
  timezone: Asia/Shanghai            # IANA zone for dates in posts and pages (default UTC)
  language: zh-CN
  # per_page: 30                     # items per listing page
  # search: true                     # full-text search in the built-in site

rsshub: https://rsshub.app           # base URL for `route:` sources (any RSSHub instance)
store: .tidings/tidings.db           # SQLite store: history, dedup, fetch state
                                    # (or postgresql://user@host/db; env TIDINGS_STORE overrides)

hexo:
  dir: blog                          # Hexo site root; posts go to blog/source/_posts
  front_matter: seed                 # seed | hexo
  clean: true                        # false = body exactly as the feed gave it

site_dir: public                     # built-in static site; remove to skip it

# fetch:
#   concurrency: 16
#   timeout: 20
#   user_agent: tidings/0.1

# stories: {enabled: true, threshold: 0.4}    # one story per event reported by several outlets
# tags: {enabled: true, max: 5, min_items_for_page: 3}   # keywords per item; tag pages from 3 items

sources:
  - category: 金融
    source: 新浪财经
    channel: 新浪财经－国內
    route: /sina/finance             # = <rsshub>/sina/finance
    limit: 15                        # newest N items taken per fetch
  # - category: Tech
  #   source: Example
  #   url: https://example.com/feed.xml
"""
