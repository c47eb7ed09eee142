"""Per-site cleaning rules: data (rules.yml, plus the `rules:` section of tidings.yml), not code paths.

A rule is keyed by host and applies to that host and all its subdomains; the key ``*`` applies to
every host. Several keys can match one URL (``*``, ``sina.com.cn`` and ``finance.sina.com.cn``
for https://finance.sina.com.cn/...): their lists are concatenated, least specific first.

User rules extend the shipped rule for the same host (lists appended, duplicates dropped); a user
rule with ``replace: true`` replaces it instead (``replace: true`` with no lists switches the shipped
rule off).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import yaml

from ..errors import RulesError
from .literals import GuardedPattern
from .urls import split_http

__all__ = ["Rule", "RuleSet", "RulesError", "load_rules", "shipped_rules", "host_of"]

_LIST_KEYS = ("remove", "unwrap", "drop_patterns")
_KEYS = set(_LIST_KEYS) | {"replace"}


@dataclass(frozen=True, slots=True)
class Rule:
    remove: tuple[str, ...] = ()
    unwrap: tuple[str, ...] = ()
    drop_patterns: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.remove or self.unwrap or self.drop_patterns)

    def merged(self, other: Rule) -> Rule:
        def cat(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(a + b))

        return Rule(cat(self.remove, other.remove), cat(self.unwrap, other.unwrap),
                    cat(self.drop_patterns, other.drop_patterns))


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """What the cleaner runs for one host: one selector string per action, one regex per pattern."""

    remove: str | None
    unwrap: str | None
    drop: tuple[GuardedPattern, ...]  # guarded: most items hold none of a pattern's literals

    def __bool__(self) -> bool:
        return bool(self.remove or self.unwrap or self.drop)


_EMPTY = CompiledRule(None, None, ())


def host_of(url: str) -> str:
    """Lower-cased host of a URL without port or trailing dot; '' when there is none."""
    if not url:
        return ""
    url = url.strip()
    fast = split_http(url)
    if fast is not None:
        host = fast[0].rpartition("@")[2].partition(":")[0]
        if "%" not in host:  # a zone id: urlsplit lower-cases only what precedes it
            return host.rstrip(".").lower()
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").lower()


def _norm_host(key: str) -> str:
    key = str(key).strip().lower()
    if key == "*":
        return key
    if "://" in key:
        key = host_of(key)
    for prefix in ("*.", "."):
        if key.startswith(prefix):
            key = key[len(prefix):]
    return key.rstrip(".")


# An http(s) origin whose netloc is host characters and a port: every URL that is this origin, a '/' and
# anything else has the origin's host (host_of reads the netloc alone, up to the first '/').
_PLAIN_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(?::[0-9]*)?")


@dataclass(slots=True)
class RuleSet:
    rules: dict[str, Rule] = field(default_factory=dict)
    _cache: dict[str, CompiledRule] = field(default_factory=dict, repr=False)
    _by_origin: dict[str, CompiledRule] = field(default_factory=dict, repr=False)

    def for_url(self, url: str) -> CompiledRule:
        """for_host(host_of(url)), memoised by the URL's origin when that alone gives the host: an item's
        URL is new each time, its origin seldom, and host_of costs more than the rest of the lookup."""
        end = url.find("/", 8)
        if end < 0 or not url.startswith(("https://", "http://")):
            return self.for_host(host_of(url))
        origin = url[:end]
        hit = self._by_origin.get(origin)
        if hit is not None:
            return hit
        rule = self.for_host(host_of(url))
        if _PLAIN_ORIGIN.fullmatch(origin):
            if len(self._by_origin) > 4096:
                self._by_origin.clear()
            self._by_origin[origin] = rule
        return rule

    def for_host(self, host: str) -> CompiledRule:
        """The combined, compiled rule for a host (cached)."""
        host = host.rstrip(".").lower()
        hit = self._cache.get(host)
        if hit is not None:
            return hit
        labels = host.split(".") if host else []
        keys = ["*"] + [".".join(labels[i:]) for i in range(len(labels) - 1, -1, -1)]
        combined = Rule()
        for k in keys:
            r = self.rules.get(k)
            if r:
                combined = combined.merged(r)
        compiled = _compile(combined) if combined else _EMPTY
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[host] = compiled
        return compiled

    def __contains__(self, host: str) -> bool:
        return _norm_host(host) in self.rules


def _compile(rule: Rule) -> CompiledRule:
    return CompiledRule(
        remove=", ".join(rule.remove) or None,
        unwrap=", ".join(rule.unwrap) or None,
        drop=tuple(GuardedPattern(_regex(p)) for p in rule.drop_patterns),
    )


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.S)


@lru_cache(maxsize=1024)
def _check_selector(sel: str) -> None:
    from selectolax.lexbor import LexborHTMLParser

    LexborHTMLParser("<p></p>", is_fragment=True).css(sel)


def _as_list(host: str, key: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise RulesError(f"rules: {host}: {key} must be a list of strings")
    out = tuple(v.strip() for v in value if v.strip())
    for v in out:
        if key == "drop_patterns":
            try:
                _regex(v)
            except re.error as e:
                raise RulesError(f"rules: {host}: drop_patterns: bad regex {v!r}: {e}") from None
        else:
            try:
                _check_selector(v)
            except Exception:  # noqa: BLE001 - selectolax's SelectolaxError, or any other refusal of the selector
                raise RulesError(f"rules: {host}: {key}: bad CSS selector {v!r}") from None
    return out


def parse_rules(data: Mapping[str, Any] | None, where: str = "rules") -> dict[str, tuple[Rule, bool]]:
    """Validate a host → rule mapping. Returns host → (Rule, replace flag)."""
    out: dict[str, tuple[Rule, bool]] = {}
    if not data:
        return out
    if not isinstance(data, Mapping):
        raise RulesError(f"{where}: expected a mapping of host → rule")
    for raw_host, spec in data.items():
        host = _norm_host(raw_host)
        if not host:
            raise RulesError(f"{where}: empty host key {raw_host!r}")
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            raise RulesError(f"{where}: {raw_host}: expected a mapping with remove/unwrap/drop_patterns")
        unknown = set(spec) - _KEYS
        if unknown:
            raise RulesError(f"{where}: {raw_host}: unknown key {sorted(map(str, unknown))[0]!r} "
                             f"(allowed: {', '.join(sorted(_KEYS))})")
        replace = spec.get("replace", False)
        if not isinstance(replace, bool):
            raise RulesError(f"{where}: {raw_host}: replace must be true or false")
        rule = Rule(*(_as_list(raw_host, k, spec.get(k)) for k in _LIST_KEYS))
        if host in out:  # the same host spelled twice (e.g. "Sina.com.cn" and "sina.com.cn.")
            prev, prev_replace = out[host]
            rule, replace = prev.merged(rule), prev_replace or replace
        out[host] = (rule, replace)
    return out


@lru_cache(maxsize=1)
def _shipped() -> dict[str, Rule]:
    text = resources.files(__package__).joinpath("rules.yml").read_text(encoding="utf-8")
    return {h: r for h, (r, _) in parse_rules(yaml.safe_load(text) or {}, "rules.yml").items()}


def shipped_rules() -> dict[str, Rule]:
    """The rules shipped in tidings/clean/rules.yml (host → Rule)."""
    return dict(_shipped())


def load_rules(extra: Mapping[str, Any] | None = None) -> RuleSet:
    """Shipped rules merged with user rules (same format, from the `rules:` section of tidings.yml).

    A user rule for a host extends the shipped rule for that host; with ``replace: true`` it
    replaces it. Raises RulesError for unknown keys, bad selectors or bad regexes.
    """
    rules = dict(_shipped())
    for host, (rule, replace) in parse_rules(extra).items():
        if replace or host not in rules:
            rules[host] = rule
        else:
            rules[host] = rules[host].merged(rule)
    return RuleSet({h: r for h, r in rules.items() if r})


@lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    """The shipped rules alone, built on first use; callers with the user's rules pass their own RuleSet."""
    return load_rules()
