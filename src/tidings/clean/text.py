"""Text hygiene: characters XML 1.0 cannot carry, and mojibake repair.

`repair_mojibake` handles the two accidents seen in Chinese feeds:

* UTF-8 bytes decoded as Latin-1 or cp1252 ("ä¸­æ–‡" for "中文", "â€œ" for "“"), possibly twice;
* GBK/GB2312 bytes decoded as Latin-1 ("ÖÐÎÄ" for "中文").

It only rewrites a piece of text when the repaired form is clearly better: the bytes decode strictly,
and what they decode to is a plausible character (CJK, common punctuation, a Latin/Greek/Cyrillic
letter...), with extra evidence required for GBK. Correct text in any language comes back unchanged
(there is a fast path for text without any U+0080..U+00FF character, which covers almost all CJK text).
"""
from __future__ import annotations

import re

__all__ = ["clean_text", "repair_mojibake", "strip_invalid_xml", "xml_safe_and_clean", "xml_safe_clean_and_utf8"]

# --- XML 1.0 -----------------------------------------------------------------------------------------

_PAIR = re.compile("([\ud800-\udbff])([\udc00-\udfff])")
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _join_pair(m: re.Match[str]) -> str:
    hi, lo = ord(m.group(1)), ord(m.group(2))
    return chr(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))


def strip_invalid_xml(s: str) -> str:
    """Drop characters XML 1.0 forbids: C0 controls except TAB/LF/CR, lone surrogates, U+FFFE/U+FFFF.

    A well-formed surrogate pair left in a str (from a careless JSON or UTF-16 decoder) is first
    joined into the character it encodes.
    """
    if not _INVALID_XML.search(s):
        return s
    if _SURROGATE.search(s):
        s = _PAIR.sub(_join_pair, s)
    return _INVALID_XML.sub("", s)


# --- mojibake ----------------------------------------------------------------------------------------

# Character → byte for text that went through a single-byte decode: Latin-1 maps U+0000..U+00FF to
# the byte of the same value; cp1252 puts 27 printable characters on 0x80..0x9F.
_TO_BYTE: dict[str, int] = {chr(b): b for b in range(0x100)}
for _b in range(0x80, 0xA0):
    try:
        _TO_BYTE[bytes([_b]).decode("cp1252")] = _b
    except UnicodeDecodeError:
        pass
_CP1252_SPECIALS = "".join(c for c, b in _TO_BYTE.items() if ord(c) > 0xFF)
_CONT = "[\x80-\xbf" + re.escape(_CP1252_SPECIALS) + "]"
_UTF8_SEQ = re.compile(
    "[\xc2-\xdf]" + _CONT + "|[\xe0-\xef]" + _CONT + "{2}|[\xf0-\xf4]" + _CONT + "{3}"
)
_HIGH_LATIN1 = re.compile("[\x80-\xff]")
_C1 = re.compile("[\x80-\x9f]")
_HIGH_RUN = re.compile("[\x80-\xff" + re.escape(_CP1252_SPECIALS) + "]+")
_GBK_HIGH = "[\x81-\xfe" + re.escape(_CP1252_SPECIALS) + "]"
_GBK_RUN = re.compile(_GBK_HIGH + "+")

# What a repaired 2-byte UTF-8 character may be: the ranges news text uses, plus what a first round of twice-
# encoded text yields (C1 controls, cp1252's letters), so that "ß“" in correct German never becomes U+07D3.
_OK_2 = ((0x0080, 0x017F), (0x0192, 0x0192), (0x02C6, 0x02C6), (0x02DC, 0x02DC), (0x0391, 0x03C9),
         (0x0400, 0x045F))
_CJK = (
    (0x2E80, 0x2FDF), (0x3000, 0x303F), (0x3040, 0x30FF), (0x3100, 0x312F), (0x3130, 0x318F),
    (0x31C0, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF01, 0xFFEF),
)
_SYMBOLS = (
    (0x2010, 0x205E), (0x20A0, 0x20CF), (0x2100, 0x218F), (0x2190, 0x22FF), (0x2460, 0x24FF),
    (0x2500, 0x27BF),
)
_OK_3 = _CJK + _SYMBOLS
_OK_4 = ((0x1F000, 0x1FAFF), (0x20000, 0x3134F))
# What a GBK pair may decode to: hanzi, CJK and full-width punctuation, and the GB2312 symbols
# Chinese text uses (“” — … · × ° ± § ① № ℃ → ...).
_OK_GBK = _CJK + _SYMBOLS + ((0x00A4, 0x00A4), (0x00A7, 0x00A8), (0x00B0, 0x00B1), (0x00B7, 0x00B7),
                             (0x00D7, 0x00D7), (0x00F7, 0x00F7))


def _in(cp: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    for lo, hi in ranges:
        if lo <= cp <= hi:
            return True
    return False


def _to_bytes(s: str) -> bytes:
    return bytes(_TO_BYTE[c] for c in s)


def _fix_utf8_seq(raw: str) -> str | None:
    try:
        ch = _to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:  # overlong forms, encoded surrogates
        return None
    ok = _OK_2 if len(raw) == 2 else _OK_3 if len(raw) == 3 else _OK_4
    return ch if _in(ord(ch), ok) else None


def _script(cp: int) -> str:
    if cp < 0x0370 or 0x2000 <= cp < 0x2200:
        return "latin"
    if cp < 0x0400:
        return "greek"
    if cp < 0x0500:
        return "cyrillic"
    return "other"


def _odd_run(decoded: str) -> bool:
    """A repaired run that looks like chance rather than text: 3+ characters, all from 2-byte
    sequences, that mix Latin/Greek/Cyrillic or are all accented Latin (no European word has three
    accented letters in a row; GBK hanzi read as UTF-8 produce exactly that)."""
    if len(decoded) < 3:
        return False
    scripts = {_script(ord(c)) for c in decoded}
    if "other" in scripts:
        return False
    return len(scripts) > 1 or scripts == {"latin"}


def _utf8_round(s: str) -> tuple[str, int, bool]:
    """One round of UTF-8 repair over every run of high (Latin-1 0x80..0xFF / cp1252) characters.

    A run is rewritten only when it is made of valid, plausible UTF-8 sequences from end to end:
    text mis-decoded as a whole has no stray high character in the middle of a run, while GBK read
    as Latin-1 only has chance pairs that happen to be valid UTF-8.
    Returns (text, characters repaired, whether a repaired run looks like chance).
    """
    total = 0
    odd = False

    def fix_run(m: re.Match[str]) -> str:
        nonlocal total, odd
        run = m.group(0)
        if len(run) < 2:
            return run
        pieces: list[str] = []
        pos = 0
        for mm in _UTF8_SEQ.finditer(run):
            if mm.start() != pos:
                return run
            ch = _fix_utf8_seq(mm.group(0))
            if ch is None:
                return run
            pieces.append(ch)
            pos = mm.end()
        if pos != len(run):
            return run
        total += len(run)
        decoded = "".join(pieces)
        odd = odd or _odd_run(decoded)
        return decoded

    return _HIGH_RUN.sub(fix_run, s), total, odd


def _repair_utf8(s: str) -> tuple[str, int, bool]:
    fixed, consumed, odd = _utf8_round(s)
    # Up to two more rounds: text that was double-encoded twice needs them. A first round that
    # yields accented-Latin soup is normal then; what counts is how the last round looks.
    for _ in range(2):
        again, n, again_odd = _utf8_round(fixed)
        if not n:
            break
        fixed, odd = again, again_odd
    return fixed, consumed, odd


def _gbk_decode(run: str) -> str | None:
    if len(run) % 2:
        return None
    try:
        out = _to_bytes(run).decode("gbk")
    except UnicodeDecodeError:
        return None
    for ch in out:
        if not _in(ord(ch), _OK_GBK):
            return None
    return out


def _repair_gbk(s: str, high_total: int) -> str:
    good: list[tuple[re.Match[str], str]] = []
    for m in _GBK_RUN.finditer(s):
        dec = _gbk_decode(m.group(0))
        if dec is not None:
            good.append((m, dec))
    covered = sum(len(m.group(0)) for m, _ in good)
    if covered < 4 or covered < 0.8 * high_total:
        return s
    longest = max(len(m.group(0)) for m, _ in good)
    letters = sum(1 for ch in s if ch.isalpha())
    # Chinese mis-decoded as Latin-1 is almost all high characters, in runs; correct European text
    # has accented letters scattered among ASCII ones ("Größe Größe" must stay as it is).
    if longest < 6 and covered < 0.5 * letters:
        return s
    parts, pos = [], 0
    for m, dec in good:
        parts.append(s[pos:m.start()])
        parts.append(dec)
        pos = m.end()
    parts.append(s[pos:])
    return "".join(parts)


def repair_mojibake(s: str) -> str:
    """Undo UTF-8-read-as-Latin-1/cp1252 (also twice over) and GBK-read-as-Latin-1 damage.

    Returns `s` unchanged when nothing clearly needs repair; never touches text without a
    U+0080..U+00FF character (so correct CJK text costs one regex search).
    """
    if not s or not _HIGH_LATIN1.search(s):
        return s
    high_total = sum(len(m.group(0)) for m in _HIGH_RUN.finditer(s))
    u, consumed, odd = _repair_utf8(s)
    if consumed and len(_C1.findall(u)) > len(_C1.findall(s)):
        u, consumed = s, 0  # C1 controls are a step on the way (twice-encoded text), not a result
    if consumed >= 0.5 * high_total and consumed and not odd:
        return u  # most of the odd characters were UTF-8 in disguise
    g = _repair_gbk(s, high_total)
    return g if g != s else u


# The C0 controls XML forbids (all but TAB, LF and CR), as Latin-1 bytes
_C0_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


def _plain_utf8(s: str) -> bytes | None:
    """The UTF-8 of `s`, or None when `s` holds a character either step could act on: a C0 control but TAB/LF/CR,
    U+0080..U+00FF, a surrogate, U+FFFE or U+FFFF. Most text (ASCII, CJK) has none. Told by a few loops in C, each
    cheaper than the regex engine's test of every character against that set (a quarter of its time on CJK text);
    the last of them, the encoding, makes the bytes the HTML parser reads."""
    low = s.encode("latin-1", "ignore")  # the characters up to U+00FF, in order
    if not low.isascii() or len(low.translate(None, _C0_BYTES)) != len(low):
        return None
    if len(low) == len(s):  # nothing past U+00FF: ASCII, its own UTF-8
        return low
    if "\ufffe" in s or "\uffff" in s:
        return None
    try:
        return s.encode("utf-8")  # refuses a surrogate: UTF-8 has no way to write one
    except UnicodeEncodeError:
        return None


def xml_safe_clean_and_utf8(s: str) -> tuple[str, str, bytes | None]:
    """(strip_invalid_xml(s), clean_text(strip_invalid_xml(s)), the UTF-8 of the latter or None), scanning `s`
    once when, as usual, neither has anything to do: the bytes are then that scan's."""
    if not s:
        return s, s, b""
    utf8 = _plain_utf8(s)
    if utf8 is not None:
        return s, s, utf8
    safe = strip_invalid_xml(s)
    return safe, repair_mojibake(safe), None


def xml_safe_and_clean(s: str) -> tuple[str, str]:
    """(strip_invalid_xml(s), clean_text(strip_invalid_xml(s)))."""
    safe, text, _ = xml_safe_clean_and_utf8(s)
    return safe, text


def clean_text(s: str) -> str:
    """Text fit for XML and for reading: invalid XML 1.0 characters dropped, mojibake repaired."""
    return xml_safe_and_clean(s or "")[1]
