"""Hand-written YAML scalar emitter for Hexo front matter.

Why not ``yaml.dump``: the seed post fixes an exact layout (which values are
quoted and how), PyYAML would fold long lines and pick its own quoting, and
this runs once per value per post, so it should be cheap.

Contract (checked by ``tests/publish/test_frontmatter.py`` against PyYAML,
which implements YAML 1.1, and against the js-yaml 4 that Hexo uses, which
implements the YAML 1.2 core schema):

* every scalar is emitted on ONE line (Hexo's front-matter splitter and its
  ``\\n\\t+`` rewrite never see anything but ``key: value`` / `` - value``);
* ``load(f"k: {yaml_scalar(v)}")["k"] == yaml_safe_text(v)`` in both parsers.

``yaml_safe_text`` drops the characters no YAML document can carry: lone
surrogates (U+D800-U+DFFF), which are not Unicode scalar values and cannot
be encoded as UTF-8 at all.  Everything else -- NUL, C0/C1 controls, tabs,
newlines, U+2028/U+2029, U+FEFF, U+FFFE/U+FFFF -- survives through escapes in
a double-quoted scalar.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ..model import TWO_DIGITS

__all__ = ["yaml_safe_text", "yaml_scalar", "rfc2822_gmt"]

_SURROGATES = re.compile("[\ud800-\udfff]")

# What may NOT appear raw in a one-line plain or single-quoted scalar of either parser: outside YAML's printable
# set, PyYAML's line breaks (U+0085, U+2028/9), the BOM, tab/CR/LF. See docs/hexo-output.md for why a complement.
_RAW_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")

# First characters that are YAML indicators (or reserved) in block context.
_LEADING_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")

# Words that resolve to bool / null (YAML 1.1 and 1.2, any case, plus the
# one-letter YAML 1.1 booleans that PyYAML does not implement but other
# YAML 1.1 readers do), the merge key and PyYAML's "value" tag.
_SPECIAL_WORDS = frozenset(
    """y n yes no on off true false null ~ << =""".split()
)

_NUMBERISH = re.compile(
    r"""
    [-+]?(?:
        [0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9_]+)?      # 1, 1.5, 012, 1e5, 1_000
      | \.[0-9_]+(?:[eE][-+]?[0-9_]+)?                       # .5, .5e3
      | 0[bB][0-1_]+ | 0[oO][0-7_]+ | 0[xX][0-9a-fA-F_]+      # 0b1, 0o17, 0x1f
      | [0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?           # 1:20, 1:20:30.5 (1.1)
      | \.(?:inf|nan)                                         # .inf, -.Inf, .NaN
    )
    """,
    re.VERBOSE | re.IGNORECASE,
)

# Timestamps (YAML 1.1 and js-yaml's default schema): anything that starts
# like a date ``YYYY-M-D`` and is followed by nothing, or by a time.
_TIMESTAMP = re.compile(
    r"""
    [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}
    (?:
        (?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?
        (?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::?[0-9]{2})?))?
    )?
    """,
    re.VERBOSE,
)

_DQ_SIMPLE = {
    "\\": "\\\\",
    '"': '\\"',
    "\0": "\\0",
    "\t": "\\t",
    "\n": "\\n",
    "\r": "\\r",
}


def yaml_safe_text(s: str) -> str:
    """Return ``s`` without characters YAML cannot carry.

    Only lone surrogates are dropped (they are not Unicode scalar values and
    cannot be written as UTF-8); every other character is representable,
    if need be through a double-quoted escape.  Hexo writers apply this to
    every value before calling :func:`yaml_scalar`.
    """
    if s.isascii():
        return s
    try:
        s.encode("utf-8")  # fails on a surrogate and only then; a third of the regex scan's time
    except UnicodeEncodeError:
        return _SURROGATES.sub("", s)
    return s


def _plain_ok(s: str) -> bool:
    if not s or s[0] in _LEADING_INDICATORS:
        return False
    if s[0].isspace() or s[-1].isspace() or _RAW_UNSAFE.search(s):
        return False
    if s[-1] == ":" or ": " in s or " #" in s:
        return False
    if s.lower() in _SPECIAL_WORDS:
        return False
    if _NUMBERISH.fullmatch(s) or _TIMESTAMP.fullmatch(s):
        return False
    return True


def _single_ok(s: str) -> bool:
    return not _RAW_UNSAFE.search(s)


def _double(s: str) -> str:
    out = []
    for ch in s:
        rep = _DQ_SIMPLE.get(ch)
        if rep is not None:
            out.append(rep)
        elif _RAW_UNSAFE.match(ch):
            code = ord(ch)
            if code <= 0xFF:
                out.append(f"\\x{code:02X}")
            elif code <= 0xFFFF:
                out.append(f"\\u{code:04X}")
            else:
                out.append(f"\\U{code:08X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def yaml_scalar(value: str, prefer: str = "plain") -> str:
    """Render ``value`` as a one-line YAML scalar that reads back unchanged.

    ``prefer="plain"``: unquoted when that is unambiguous in YAML 1.1
    (PyYAML) and YAML 1.2 (js-yaml), else single-quoted, else double-quoted.
    ``prefer="single"``: single-quoted (``'`` doubled) unless the value holds
    a character single quotes cannot carry on one line (newline, tab,
    control, U+0085/U+2028/U+2029/U+FEFF...), then double-quoted with escapes.

    The value should already have passed through :func:`yaml_safe_text`;
    lone surrogates are dropped here too so the output is always encodable.
    """
    if prefer not in ("plain", "single"):
        raise ValueError(f"prefer must be 'plain' or 'single', not {prefer!r}")
    if not isinstance(value, str):
        raise TypeError(f"yaml_scalar expects str, not {type(value).__name__}")
    s = yaml_safe_text(value)
    if prefer == "plain" and _plain_ok(s):
        return s
    if _single_ok(s):
        return "'" + s.replace("'", "''") + "'"
    return _double(s)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc2822_gmt(dt: datetime) -> str:
    """``Mon, 14 Mar 2022 06:22:47 GMT`` -- English names whatever the locale.

    Aware datetimes are converted to UTC; naive ones are taken to be UTC.
    Sub-second precision is dropped. (What ``email.utils.format_datetime(dt,
    usegmt=True)`` writes, without its per-call overhead: this runs per post.)
    """
    if dt.tzinfo is not None and dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    # Two digits from a table and the year as str() (4 digits from 1000 on) in one f-string: 60% of %-formatting's
    # instructions, once per post.
    year = dt.year if dt.year >= 1000 else f"{dt.year:04d}"
    return (f"{_DAYS[dt.weekday()]}, {TWO_DIGITS[dt.day]} {_MONTHS[dt.month]} {year} "
            f"{TWO_DIGITS[dt.hour]}:{TWO_DIGITS[dt.minute]}:{TWO_DIGITS[dt.second]} GMT")
