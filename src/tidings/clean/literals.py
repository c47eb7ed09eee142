"""Regexes guarded by literals: a substring test (a C scan) before the regex engine, which steps through
every character of a text it cannot match.

necessary_literals reads a pattern's parse tree for strings one of which every match contains: a run of
literal characters in its top-level sequence, a group's or a repeat's (at least once) own, a set with one
per branch of an alternation. Anything it cannot read (case-insensitive parts, classes, back-references)
gives no guard, never a wrong one.
"""
from __future__ import annotations

import re
import re._constants as _c  # the parser's opcodes
import re._parser as _parser
from typing import Any

__all__ = ["GuardedPattern", "necessary_literals"]

_REPEATS = frozenset({_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", _c.MAX_REPEAT)})


def _best(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    # The rarer guard, by a rule of thumb: its shortest string longest, then its strings longer on average.
    if not a:
        return b
    if not b:
        return a
    return max(a, b, key=lambda s: (min(map(len, s)), sum(map(len, s)) / len(s)))


def _of_sequence(items: Any) -> frozenset[str] | None:
    best: frozenset[str] | None = None
    run: list[str] = []
    for op, av in items:
        if op is _c.LITERAL:
            run.append(chr(av))
            continue
        if run:
            best = _best(best, frozenset({"".join(run)}))
            run = []
        found: frozenset[str] | None = None
        if op is _c.SUBPATTERN and not av[1] & re.IGNORECASE:
            found = _of_sequence(av[3])
        elif op is _c.ATOMIC_GROUP:
            found = _of_sequence(av)
        elif op in _REPEATS and av[0] >= 1:
            found = _of_sequence(av[2])
        elif op is _c.BRANCH:
            branches = [_of_sequence(b) for b in av[1]]
            if all(branches):
                found = frozenset(s for branch in branches if branch for s in branch)
        best = _best(best, found)
    if run:
        best = _best(best, frozenset({"".join(run)}))
    return best


def necessary_literals(regex: re.Pattern[str]) -> tuple[str, ...] | None:
    """Strings one of which every match of `regex` contains (None: no such guard found)."""
    if regex.flags & re.IGNORECASE or not isinstance(regex.pattern, str):
        return None
    tree = _parser.parse(regex.pattern, regex.flags)
    if tree.state.flags & re.IGNORECASE:  # an inline (?i) at the start
        return None
    found = _of_sequence(tree)
    if not found:
        return None
    # A string holding another of the set adds nothing: the shorter one is found wherever it is.
    return tuple(sorted(s for s in found if not any(t != s and t in s for t in found)))


class GuardedPattern:
    """A compiled regex whose search() first looks for its necessary literals: same result, and text
    holding none of them never reaches the regex engine."""

    __slots__ = ("regex", "pattern", "literals")

    def __init__(self, regex: re.Pattern[str]) -> None:
        self.regex = regex
        self.pattern = regex.pattern
        self.literals = necessary_literals(regex)

    def search(self, text: str) -> re.Match[str] | None:
        literals = self.literals
        if literals is not None:
            for literal in literals:
                if literal in text:
                    break
            else:
                return None
        return self.regex.search(text)

    def sub(self, repl: str, text: str) -> str:
        """regex.sub(repl, text), or text itself when it holds none of the literals (so nothing matches)."""
        literals = self.literals
        if literals is not None and not any(literal in text for literal in literals):
            return text
        return self.regex.sub(repl, text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GuardedPattern) and self.regex == other.regex

    def __hash__(self) -> int:
        return hash(self.regex)

    def __repr__(self) -> str:
        return f"GuardedPattern({self.regex!r}, literals={self.literals!r})"
