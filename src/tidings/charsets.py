"""Charset labels → Python codecs: the one lookup for feeds (parse) and pages (http), with no HTTP import, so
reading a feed does not load the HTTP client."""
from __future__ import annotations

import codecs

__all__ = ["codec_for"]

# A legacy charset → the superset browsers decode it as (WHATWG Encoding): Latin-1 and ASCII as windows-1252,
# GB2312 and GBK as GB18030, Big5 as Big5-HKSCS. Keyed by Python's codec name, so that every spelling of a
# label (iso-8859-1, iso8859-1, latin1 …) reads alike. feedparser ends at windows-1252 for Latin-1 feeds too.
_SUPERSETS = {"iso8859-1": "cp1252", "ascii": "cp1252", "gb2312": "gb18030", "gbk": "gb18030", "big5": "big5hkscs"}
# Labels Python does not know. x-user-defined: HTML's prescan reads it as windows-1252.
_LABELS = {"x-gbk": "gbk", "gb_2312-80": "gb2312", "csgb2312": "gb2312", "windows-936": "gbk",
           "x-euc-jp": "euc_jp", "x-sjis": "shift_jis", "x-user-defined": "cp1252", "unicode": "utf-16"}
# Python codecs no document is written in: decoding with them fails with a UnicodeError or means nothing.
_NOT_CHARSETS = {"undefined", "idna", "punycode", "unicode-escape", "raw-unicode-escape"}


def codec_for(label: str | None) -> str | None:
    """Python's codec for a charset label (a Content-Type charset, <meta charset>, an XML prolog's encoding),
    or None when it names no charset that a document can be decoded with.

    UTF-16 and UTF-32 give None too: a label written in ASCII-compatible bytes cannot be true of them (their
    BOM, or the width of the first character, says so before any label is read).
    """
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    try:
        info = codecs.lookup(_LABELS.get(label, label))
    except LookupError:
        return None
    name = _SUPERSETS.get(info.name, info.name)
    if name in _NOT_CHARSETS or not getattr(info, "_is_text_encoding", True):
        return None
    if name.startswith(("utf-16", "utf-32")):
        return None
    return name
