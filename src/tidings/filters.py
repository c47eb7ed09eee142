"""Include / exclude filters on items: rules are data (field → regular expression), evaluated once per item.

A rule is a mapping of one or more fields to regular expressions (case-insensitive, `re.search`); it
matches when all its fields match. A bare string is short for `{title: …}`. An item is published when
no `exclude` rule matches it and, if there are `include` rules, at least one of them matches.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .errors import FilterError

FIELDS = ("title", "content", "author", "link", "category")
_TAGS = re.compile(r"<[^>]+>")
Rule = str | Mapping[str, str]  # a bare string is short for {"title": ...}


def compile_rule(rule: Rule) -> dict[str, re.Pattern[str]]:
    if isinstance(rule, str):
        rule = {"title": rule}
    if not isinstance(rule, Mapping) or not rule:
        raise FilterError("a filter is a regular expression or a mapping of field → regular expression")
    out = {}
    for field, pattern in rule.items():
        if field not in FIELDS:
            raise FilterError(f"unknown filter field {field!r} (use {', '.join(FIELDS)})")
        try:
            out[field] = re.compile(str(pattern), re.I)
        except re.error as e:
            raise FilterError(f"bad regular expression {pattern!r}: {e}") from None
    return out


@dataclass(frozen=True)
class ItemFilter:
    include: tuple[dict[str, re.Pattern[str]], ...] = ()
    exclude: tuple[dict[str, re.Pattern[str]], ...] = ()

    @classmethod
    def from_rules(cls, include: Iterable[Rule] = (), exclude: Iterable[Rule] = ()) -> ItemFilter:
        return cls(tuple(compile_rule(r) for r in include), tuple(compile_rule(r) for r in exclude))

    @property
    def active(self) -> bool:
        return bool(self.include or self.exclude)

    @property
    def fingerprint(self) -> str:
        """Changes when the rules change: the store then re-evaluates the source's items once."""
        plain = [[{f: p.pattern for f, p in r.items()} for r in rules] for rules in (self.include, self.exclude)]
        return hashlib.sha256(json.dumps(plain, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]

    def accepts(self, *, title: str = "", content: str = "", author: str = "", link: str = "",
                categories: Iterable[str] = ()) -> bool:
        if not self.active:
            return True
        values = {"title": title, "content": _TAGS.sub(" ", content), "author": author, "link": link,
                  "category": "\n".join(categories)}

        def matches(rule: dict[str, re.Pattern[str]]) -> bool:
            return all(p.search(values[f]) for f, p in rule.items())

        if any(matches(r) for r in self.exclude):
            return False
        return not self.include or any(matches(r) for r in self.include)
