"""URL helpers for the cleaner: resolution, scheme safety, tracking parameters, pixels, srcset.

The lists these functions use are data, in defaults.yml beside this file.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from html import unescape
from importlib import resources
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

import yaml

from .literals import GuardedPattern

__all__ = [
    "Lists", "lists", "normalize_url_text", "scheme_of", "is_safe_url", "resolve", "strip_tracking",
    "parse_srcset", "format_srcset", "is_pixel_url", "is_placeholder_src", "allowed_iframe_src",
]


@dataclass(frozen=True, slots=True)
class Lists:
    tracking_params: frozenset[str]
    tracking_param_prefixes: tuple[str, ...]
    pixel_hosts: tuple[str, ...]
    pixel_host_set: frozenset[str]
    pixel_url_re: GuardedPattern
    placeholder_re: GuardedPattern
    lazy_src_attrs: tuple[str, ...]
    lazy_srcset_attrs: tuple[str, ...]
    iframe_allow: tuple[tuple[str, str], ...]  # (host, path prefix)
    qr_re: GuardedPattern
    icon_re: GuardedPattern


def _any(patterns: list[str]) -> GuardedPattern:
    # Guarded: most URLs hold none of the patterns' literals, and then no regex runs (~1-7 µs each).
    return GuardedPattern(re.compile("|".join(f"(?:{p})" for p in patterns) or r"(?!)"))


@lru_cache(maxsize=1)
def lists() -> Lists:
    """The built-in lists from defaults.yml (loaded once)."""
    data = yaml.safe_load(resources.files(__package__).joinpath("defaults.yml").read_text("utf-8"))
    allow = []
    for entry in data["iframe_allow"]:
        host, _, path = entry.partition("/")
        allow.append((host.lower(), "/" + path))
    return Lists(
        tracking_params=frozenset(p.lower() for p in data["tracking_params"]),
        tracking_param_prefixes=tuple(p.lower() for p in data["tracking_param_prefixes"]),
        pixel_hosts=tuple(h.lower() for h in data["pixel_hosts"]),
        pixel_host_set=frozenset(h.lower() for h in data["pixel_hosts"]),
        pixel_url_re=_any(data["pixel_url_patterns"]),
        placeholder_re=_any(data["placeholder_patterns"]),
        lazy_src_attrs=tuple(data["lazy_src_attrs"]),
        lazy_srcset_attrs=tuple(data["lazy_srcset_attrs"]),
        iframe_allow=tuple(allow),
        qr_re=_any(data["qr_patterns"]),
        icon_re=_any(data["icon_patterns"]),
    )


# --- scheme safety -----------------------------------------------------------------------------------

_C0_SPACE = "".join(chr(i) for i in range(0x21))
_TAB_NL = re.compile("[\t\n\r]")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_IMAGE_DATA = re.compile(r"^data:image/(?:png|jpe?g|gif|webp|avif|bmp)[;,]", re.I)
LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
MEDIA_SCHEMES = frozenset({"http", "https"})


def normalize_url_text(value: str) -> str:
    """What a browser does to an attribute URL before parsing it: trim C0/space, drop tab/CR/LF."""
    value = value.strip(_C0_SPACE)
    if "\t" in value or "\n" in value or "\r" in value:
        value = _TAB_NL.sub("", value)
    return value


def scheme_of(value: str) -> str:
    """Lower-cased scheme after HTML-unescaping and browser whitespace rules; '' for relative URLs."""
    m = _SCHEME.match(normalize_url_text(unescape(value)))
    return m.group(1).lower() if m else ""


def is_safe_url(value: str, *, image: bool = False) -> bool:
    """True when a (decoded) attribute URL is relative or uses an allowed scheme.

    Links may be http(s), mailto, tel; media http(s), and images also data:image/<raster>.
    """
    v = normalize_url_text(value)
    m = _SCHEME.match(v)
    if not m:
        return not v.startswith("\\\\")  # relative; but browsers read "\\host" as //host: refuse
    scheme = m.group(1).lower()
    if scheme == "data":
        return image and bool(_IMAGE_DATA.match(v))
    return scheme in (MEDIA_SCHEMES if image else LINK_SCHEMES)


@lru_cache(maxsize=512)
def _origin(base: str) -> tuple[str, str] | None:
    """(scheme, scheme://netloc) of an http(s) base, for the cheap root-relative cases."""
    try:
        parts = urlsplit(base)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.scheme, f"{parts.scheme}://{parts.netloc}"


def resolve(value: str, base: str) -> str:
    """Absolute form of an attribute URL against base ('' = leave relative URLs as they are)."""
    v = normalize_url_text(value)
    if not v or v.startswith(("https://", "http://", "#")) or _SCHEME.match(v):
        return v
    if not base:
        return v
    if v[0] == "/" and "/." not in v and "\\" not in v:  # the common shapes, as urljoin would
        origin = _origin(base)
        if origin:
            if v.startswith("//"):
                if len(v) > 2:
                    return f"{origin[0]}:{v}"
            else:
                return origin[1] + v
    try:
        return urljoin(base, v)
    except ValueError:
        return v


# --- tracking --------------------------------------------------------------------------------------

def _is_tracking_param(name: str, L: Lists) -> bool:
    n = unquote_plus(name).strip().lower()
    return n in L.tracking_params or n.startswith(L.tracking_param_prefixes)


@lru_cache(maxsize=4096)
def _tracking_name(name: str) -> bool:
    # A few parameter names (utm_source, spm, id...) recur over every feed's links.
    return _is_tracking_param(name, lists())


# The usual shape of an http(s) URL: a netloc without brackets, then path, query and fragment; no tab, CR or LF.
_HTTP_PARTS = re.compile(r"(https?://([^/?#\t\r\n\[\]]+))(/[^?#\t\r\n]*)?(?:\?([^#\t\r\n]*))?(?:#([^\t\r\n]*))?")


def split_http(url: str) -> tuple[str, str, str, str] | None:
    """(netloc, scheme://netloc/path, query, fragment) exactly as urlsplit finds them, for the usual shape
    only: an http(s) URL with a non-empty ASCII netloc without brackets, and no tab, CR or LF (what
    urlsplit would strip, check or reject). None for anything else: the caller then asks urlsplit.
    One match of the regex: fewer interpreter steps than the string methods that did this."""
    m = _HTTP_PARTS.fullmatch(url)
    if m is None:
        return None
    origin, netloc, path, query, fragment = m.groups()
    if not netloc.isascii():
        return None
    return netloc, origin + path if path else origin, query or "", fragment or ""


def strip_tracking(url: str) -> str:
    """Remove tracking query parameters (utm_*, spm, from, fbclid, ...); others stay byte for byte."""
    if "?" not in url:
        return url
    fast = split_http(url)
    if fast is not None:
        _, head, query, fragment = fast
    else:
        try:
            parts = urlsplit(url)
        except ValueError:
            return url
        query = parts.query
    if not query:
        return url
    kept = [p for p in query.split("&") if p and not _tracking_name(p.split("=", 1)[0])]
    stripped = "&".join(kept)
    if stripped == query:
        return url
    if fast is None:
        return urlunsplit(parts._replace(query=stripped))
    # What urlunsplit makes of these parts: an empty query or fragment loses its delimiter.
    return head + ("?" + stripped if stripped else "") + ("#" + fragment if fragment else "")


_HOST = re.compile(r"^[a-z][a-z0-9+.\-]*:?//(?:[^/?#@]*@)?(\[[^\]]*\]|[^/?#:]*)")


_CACHED_URL = 512  # longer ones (inline data: images of many KB) are worked out, never kept


class _ShortMemo:
    """A check of an image URL, memoised for URLs of at most _CACHED_URL characters: the DOM pass and
    pick_cover ask it again of the same URLs."""

    def __init__(self, check: Callable[[str], bool]) -> None:
        self.check = check
        self.memo = lru_cache(maxsize=1024)(check)
        self.__doc__ = check.__doc__

    def __call__(self, url: str) -> bool:
        return self.memo(url) if len(url) <= _CACHED_URL else self.check(url)


@_ShortMemo
def is_pixel_url(url: str) -> bool:
    """A URL from a known tracking-pixel host (or a subdomain) or with a known pixel path."""
    L = lists()
    low = url.lower()
    m = _HOST.match(low)
    if m:
        labels = m.group(1).rstrip(".").split(".")
        hosts = L.pixel_host_set
        for i in range(len(labels) - 1):
            if ".".join(labels[i:]) in hosts:
                return True
    return bool(L.pixel_url_re.search(low))


def is_placeholder_src(src: str | None) -> bool:
    """A src that only stands in for a lazy-loaded image: missing, blank, data:, spacer/blank GIFs."""
    return src is None or _is_placeholder_src(src)


@_ShortMemo
def _is_placeholder_src(src: str) -> bool:
    v = normalize_url_text(src)
    if not v or v.lower().startswith("data:"):
        return True
    return bool(lists().placeholder_re.search(v.lower()))


def allowed_iframe_src(src: str) -> str | None:
    """The https:// form of an allow-listed video embed URL, or None."""
    v = normalize_url_text(src)
    if v.startswith("//"):
        v = "https:" + v
    try:
        parts = urlsplit(v)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host, path = parts.hostname.lower(), parts.path or "/"
    for allow_host, prefix in lists().iframe_allow:
        if (host == allow_host or host.endswith("." + allow_host)) and path.startswith(prefix):
            return urlunsplit(parts._replace(scheme="https"))
    return None


# --- srcset -----------------------------------------------------------------------------------------

_WS = " \t\n\r\f"


def parse_srcset(value: str) -> list[tuple[str, str]]:
    """[(url, descriptor)] per the HTML srcset parsing rules (commas inside URLs survive)."""
    out: list[tuple[str, str]] = []
    s, i, n = value, 0, len(value)
    while i < n:
        while i < n and (s[i] in _WS or s[i] == ","):
            i += 1
        if i >= n:
            break
        j = i
        while j < n and s[j] not in _WS:
            j += 1
        url = s[i:j]
        i = j
        desc = ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            depth, k = 0, i
            while k < n:
                c = s[k]
                if c == "(":
                    depth += 1
                elif c == ")":
                    depth = max(0, depth - 1)
                elif c == "," and depth == 0:
                    break
                k += 1
            desc = s[i:k].strip()
            i = k + 1
        if url:
            out.append((url, desc))
    return out


def format_srcset(items: list[tuple[str, str]]) -> str:
    return ", ".join(f"{u} {d}" if d else u for u, d in items)
