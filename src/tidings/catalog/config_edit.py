"""Append imported sources to tidings.yml without disturbing what is already there.

ruamel.yaml round-trip mode keeps comments, key order, quoting and layout; the indentation of the file is
measured first so that untouched parts are written back byte for byte. Comment lines that trailed the old last
source (commented-out examples, a blank line and the comment of the next key) stay after the new sources.
"""
from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.tokens import CommentToken

from ..publish.atomic import replace_atomic
from .categories import category_matches
from .spec import DEFAULT_RSSHUB, CatalogError, SourceSpec, normalize_route, normalize_url, resolve_route


@dataclass(slots=True)
class AddResult:
    """What `append_sources` did. `skipped` pairs a spec with the reason (a duplicate); `filtered` are the specs
    that the `category`/`route` filters left out. `reformatted` is True when ruamel.yaml could not write the
    untouched parts of the file back unchanged (unusual layouts); the content is still the same YAML."""

    path: Path
    added: list[SourceSpec] = field(default_factory=list)
    skipped: list[tuple[SourceSpec, str]] = field(default_factory=list)
    filtered: list[SourceSpec] = field(default_factory=list)
    written: bool = False
    reformatted: bool = False


def select_specs(specs: Iterable[SourceSpec], *, category: str | None = None,
                 route: str | None = None) -> tuple[list[SourceSpec], list[SourceSpec]]:
    """Split into (kept, filtered). `category`: equal ignoring case, or the same RSSHub category under another
    name (finance / Finance / 金融). `route`: the route is the prefix or lies below it, by path segment
    (`/sina` keeps `/sina` and `/sina/finance`, not `/sinatech`); a prefix ending in `/` is matched as text.
    Sources with a `url` never match a route filter."""
    kept: list[SourceSpec] = []
    dropped: list[SourceSpec] = []
    prefix = None
    if route is not None:
        prefix = route.strip()
        if not prefix.startswith("/"):
            prefix = "/" + prefix
    for s in specs:
        ok = True
        if category is not None and not category_matches(category, s.category):
            ok = False
        if ok and prefix is not None:
            if s.route is None:
                ok = False
            elif prefix.endswith("/"):
                ok = s.route.startswith(prefix)
            else:
                ok = s.route == prefix or s.route.startswith(prefix + "/") or s.route.startswith(prefix + "?")
        (kept if ok else dropped).append(s)
    return kept, dropped


def append_sources(config_path: Path | str, specs: Iterable[SourceSpec], *, category: str | None = None,
                   route: str | None = None, dry_run: bool = False) -> AddResult:
    """Append `specs` (after the filters, see `select_specs`) to the `sources:` list of the YAML file.

    A spec is skipped when the file already has a source with the same route, or the same URL, or the same
    feed URL once routes are resolved against the file's `rsshub:` (https://rsshub.app when absent) — trailing
    slashes and the case of scheme and host ignored — or when an earlier spec of this call was added for it.
    `sources:` is created when missing or empty. The file is replaced atomically, and only when something was
    added and `dry_run` is False. Raises CatalogError when the file cannot be read or is not a YAML mapping.
    """
    path = Path(config_path)
    result = AddResult(path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise CatalogError(f"{path}: {e.strerror or e}") from e
    yaml = _yaml()
    try:
        doc = yaml.load(text)
    except YAMLError as e:
        raise CatalogError(f"{path}: not valid YAML: {e}") from e
    if doc is None:  # empty, or only comments
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise CatalogError(f"{path}: the top level is not a mapping")
    _set_indent(yaml, doc)
    reformatted = _dump(yaml, doc) != text if text.strip() else False

    rsshub = doc.get("rsshub") if isinstance(doc.get("rsshub"), str) else DEFAULT_RSSHUB
    seq = doc.get("sources")
    known: dict[str, str] = {}
    if isinstance(seq, list):
        for i, item in enumerate(seq):
            if not isinstance(item, Mapping):
                continue
            where = _where(path, seq, i)
            for key in _keys(item, rsshub):
                known.setdefault(key, where)

    kept, result.filtered = select_specs(specs, category=category, route=route)
    for spec in kept:
        keys = _keys(spec.to_mapping(), rsshub)
        hit = next((k for k in keys if k in known), None)
        if hit is not None:
            result.skipped.append((spec, f"{_describe(hit)} is already {known[hit]}"))
            continue
        for k in keys:
            known[k] = "in this import"
        result.added.append(spec)

    if not result.added or dry_run:
        return result

    new_items = [_item(s) for s in result.added]
    if "sources" not in doc and not doc.fa.flow_style() and not re.search(r"(?m)^(?:\.\.\.|---)\s*$", text[3:]):
        # No `sources:` yet: add it as a new block at the end, leaving every existing byte alone.
        block = CommentedMap()
        block["sources"] = CommentedSeq(new_items)
        block["sources"].fa.set_block_style()
        sep = "" if not text.strip() else ("\n" if text.endswith("\n") else "\n\n")
        _atomic_write(path, text + sep + _dump(yaml, block))
        result.written = True
        return result
    if not isinstance(seq, CommentedSeq) or not seq:
        fresh = CommentedSeq(new_items)
        fresh.fa.set_block_style()
        doc["sources"] = fresh
    else:
        _move_trailing_comment(seq, new_items)
        seq.extend(new_items)
    out = _dump(yaml, doc)
    result.reformatted = reformatted
    _atomic_write(path, out)
    result.written = True
    return result


# -- helpers ---------------------------------------------------------------------------------------------------

def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap long lines
    y.allow_unicode = True
    return y


def _dump(yaml: YAML, doc: Any) -> str:
    buf = io.StringIO()
    yaml.dump(doc, buf)
    return buf.getvalue()


def _set_indent(yaml: YAML, doc: CommentedMap) -> None:
    """Measure the file's own indentation: nested mappings, and `- ` items of block sequences."""
    mapping, sequence, offset = 2, 4, 2  # tidings init style: "  - category: …"
    base = doc.lc.col or 0
    for v in doc.values():
        if isinstance(v, CommentedMap) and v and not v.fa.flow_style() and v.lc.col is not None:
            if v.lc.col - base > 0:
                mapping = v.lc.col - base
                break
    seqs = [doc.get("sources")] + [v for v in doc.values() if isinstance(v, CommentedSeq)]
    for s in seqs:
        if isinstance(s, CommentedSeq) and s and not s.fa.flow_style() and isinstance(s[0], CommentedMap):
            dash, key = s.lc.col, s[0].lc.col
            if dash is not None and key is not None and key - dash >= 2:
                offset = dash - base
                sequence = key - base
                break
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)


def _keys(m: Mapping[str, Any], rsshub: str) -> list[str]:
    """Identity keys of a source mapping: its route, its URL and its resolved feed URL."""
    keys = []
    route, url = m.get("route"), m.get("url")
    if isinstance(route, str) and route.strip():
        r = normalize_route(route)
        keys.append("route:" + r)
        keys.append("feed:" + normalize_url(resolve_route(r, rsshub)))
    if isinstance(url, str) and url.strip():
        keys.append("url:" + normalize_url(url))
        keys.append("feed:" + normalize_url(url))
    return keys


def _describe(key: str) -> str:
    kind, _, value = key.partition(":")
    return {"route": "route", "url": "URL", "feed": "feed URL"}[kind] + " " + value


def _where(path: Path, seq: list[Any], i: int) -> str:
    if isinstance(seq, CommentedSeq):  # as loaded: it knows its lines
        try:
            line = seq.lc.item(i)[0] + 1
            return f"in {path.name} (sources[{i}], line {line})"
        except (AttributeError, KeyError, TypeError):
            pass
    return f"in {path.name} (sources[{i}])"


def _item(spec: SourceSpec) -> CommentedMap:
    m = CommentedMap()
    for k, v in spec.to_mapping().items():
        m[k] = v
    return m


def _move_trailing_comment(seq: CommentedSeq, new_items: list[CommentedMap]) -> None:
    """Comment lines after the old last item belong after the list: keep its end-of-line comment, move the rest."""
    if not seq or not new_items:
        return
    last = seq[-1]
    slot, index = None, 0
    if isinstance(last, CommentedMap) and last and not last.fa.flow_style():
        slot, index = last.ca.items.get(list(last.keys())[-1]), 2  # after the last value of a block mapping
    if slot is None or len(slot) <= index or slot[index] is None:
        slot, index = seq.ca.items.get(len(seq) - 1), 0  # after a flow mapping or a scalar item
    if not slot or len(slot) <= index or slot[index] is None:
        return
    token = slot[index]
    value = token.value
    nl = value.find("\n")
    if nl < 0:
        return
    head, rest = value[: nl + 1], value[nl + 1:]
    if not rest:
        return
    if head.lstrip().startswith("#"):
        token.value = head
    else:
        slot[index] = None
    target = new_items[-1]
    target_key = list(target.keys())[-1]
    target.ca.items[target_key] = [None, None, CommentToken("\n" + rest, CommentMark(0), None), None]


def _atomic_write(path: Path, text: str) -> None:
    """Replace tidings.yml atomically, keeping its permissions."""
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        mode = None
    replace_atomic(path, text.encode("utf-8"))
    if mode is not None:
        os.chmod(path, mode)


def read_config_sources(config_path: Path | str) -> tuple[list[SourceSpec], str, str]:
    """(specs, rsshub base, site title) from a tidings.yml, for `tidings sources export`. Entries that are not
    valid sources are left out (the config loader reports them)."""
    path = Path(config_path)
    try:
        doc = _yaml().load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise CatalogError(f"{path}: {e.strerror or e}") from e
    except YAMLError as e:
        raise CatalogError(f"{path}: not valid YAML: {e}") from e
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        raise CatalogError(f"{path}: the top level is not a mapping")
    raw_rsshub, raw_site = doc.get("rsshub"), doc.get("site")
    rsshub = raw_rsshub if isinstance(raw_rsshub, str) else DEFAULT_RSSHUB
    site = raw_site if isinstance(raw_site, Mapping) else {}
    title = str(site.get("title") or "tidings")
    specs = []
    for item in doc.get("sources") or []:
        if isinstance(item, Mapping):
            try:
                specs.append(SourceSpec.from_mapping(item))
            except ValueError:
                continue
    return specs, rsshub, title
