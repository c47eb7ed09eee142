"""Near-duplicate grouping: which items are one story (SPEC §10).

An item's fingerprint is a MinHash signature of the character shingles of its title and lead, plus its
*marks*: the numbers, dates and percentages they state. Two items are one story when their signatures
estimate a Jaccard similarity of at least the threshold and their marks do not conflict (October's PMI of
49.5% against November's 50.3%: the wording is the same template, the figures are not).

* Shingles need no word segmentation: the text is NFKC-normalised, lower-cased, stripped of everything
  that is not a letter or digit (spaces too), then cut into character n-grams, n = 3 for Chinese/Japanese
  text and n = 5 otherwise. Only the title and the first `LEAD_CJK` / `LEAD_LATIN` characters of the
  text count: reposts agree best at the start (portals cut the end off, or append their own), and it
  bounds the cost. `read_lead` normalises title and lead once; `fingerprint_of` and
  `keywords.keywords_of` both read that one copy.
* Boilerplate that outlets add or drop (datelines, "来源：…", "责任编辑：…", "原标题：…", "(Reuters) -",
  "Reporting by …") is removed first, so it counts neither as text nor as marks.
* The signature (rensa's RMinHash over each shingle's characters packed into one 64-bit integer, which
  rensa mixes itself, so nothing depends on Python's randomised `hash`) is `SIG_PERMS` uint32 values.
  `BANDS` × `ROWS` of them are cut into LSH bands; each band hashes to one signed 64-bit key, and
  items sharing a key are candidates.
* `Grouper` is the in-memory reference of the story rule the store implements with a table of band keys.

Everything here is pure: no store, no I/O. A golden test pins the signature of a fixed text, so a rensa
release that changed its hashing would be caught before stored fingerprints stopped matching new ones.
"""
from __future__ import annotations

import functools
import re
import struct
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from rensa import RMinHash

__all__ = [
    "BANDS", "DEFAULT_THRESHOLD", "EMPTY_SIG", "LEAD_CJK", "LEAD_LATIN", "ROWS", "SIG_PERMS", "WINDOW_SECONDS",
    "Fingerprint", "Grouper", "Lead", "band_keys", "band_matrix", "conflict", "fingerprint", "fingerprint_of",
    "fingerprint_bytes_of", "fingerprints_of", "is_cjk_text", "marks_of", "read_lead", "same_story", "signature_of",
    "similarity",
]

SIG_PERMS = 128
# 32 bands of 3 rows (96 of the 128 values). A pair of similarity s becomes a candidate with probability
# 1 - (1 - s**3)**32: 0.58 at s = 0.3, 0.88 at 0.4, 0.99 at 0.5, 0.9997 at 0.6; unrelated news (s ≈ 0.02)
# 0.0003. Reposts in the labelled set sit at 0.45–1.0, so few are missed, while a store keeps 32 keys per
# item. The 32 values left out of the bands still sharpen the similarity estimate.
BANDS, ROWS = 32, 3
DEFAULT_THRESHOLD = 0.4
MARK_MIN_OVERLAP = 0.6  # shared marks / marks of the item with fewer: below this the figures conflict
MAX_MARKS = 32
WINDOW_SECONDS = 7 * 86400  # candidates published further apart than this are never one story
LEAD_CJK = 160  # normalised characters of text after the title, Chinese/Japanese (≈ 2–3 sentences)
LEAD_LATIN = 400  # the same for other scripts (≈ 65 English words)
RAW_CAP = int(1.5 * LEAD_LATIN)  # raw characters of text read at all (boilerplate, spaces, punctuation included)
# Raw characters read of a Chinese/Japanese text: LEAD_CJK normalised ones for the signature, and the
# keywords count their candidates in the first 300 (keywords.ZH_LEAD).
RAW_CJK = 320
CJK_SAMPLE = 120  # characters of text that, with the title, decide the script
SEED = 0x7469  # "ti": fixed forever; changing it (or the shingle values) invalidates stored fingerprints
# First byte of Fingerprint.to_bytes. 1: shingles hashed by a polynomial + splitmix64 (not read any more:
# such a fingerprint is taken as empty, never the same story); 2: shingle characters packed as they are.
_VERSION = 2

_EMPTY = b"\xff" * (4 * SIG_PERMS)
EMPTY_SIG = _EMPTY  # the signature of an empty fingerprint (no text), and of one of an older format

# --- boilerplate ---------------------------------------------------------------------------------

_CREDIT = r" by [^;)\n]{0,80}[;)]?"  # "(Reporting by …; Editing by …)"
# (pattern, gate): a pattern runs only when one of its gate substrings is in the text (regex scans cost).
_BOILERPLATE_SRC = (
    # Chinese: credits, sources, original titles, datelines, end marks
    (r"[（(]\s*(?:记者|通讯员|实习生|编辑|作者|央视记者|总台记者)[^）)]{0,40}[）)]",
     ("记者", "通讯员", "实习生", "编辑", "作者")),
    (r"(?:原标题|来源|本文来源|文章来源|稿件来源|图片来源|来源于|责任编辑|编辑|责编|校对|审核|审校|监制|作者|撰文|记者|摄影)"
     r"\s*[：:|]\s*[^\s，。；;！？|]{0,30}",
     ("原标题", "来源", "编辑", "责编", "校对", "审核", "审校", "监制", "作者", "撰文", "记者", "摄影")),
    (r"^\s*(?:【[^】]{1,24}】|[\[［][^\]］]{1,24}[\]］])", ("【", "[", "［")),
    (r"^\s*[^\s，。：:]{0,16}?\d{1,2}\s*月\s*\d{1,2}\s*日\s*(?:电|讯|消息)", ("日电", "日讯", "日消息", "日 电")),
    (r"^\s*(?:本报讯|本台消息|据[^\s，。]{1,10}消息)", ("本报讯", "本台消息", "消息")),
    (r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?\s+\d{1,2}:\d{2}(?::\d{2})?", (":",)),
    (r"[（(]\s*完\s*[）)]|【\s*纠错\s*】|海量资讯、精准解读，尽在新浪财经APP|点击进入专题[:：]?",
     ("完）", "完)", "完 ", "纠错", "海量资讯", "专题")),
    # English: wire datelines and credits
    (r"^\s*(?:[A-Z][A-Za-z.'-]*(?:[ ,/]+[A-Z][A-Za-z.'-]*){0,4}\s*)?"
     r"(?:,\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2}\s*)?\((?:Reuters|AP|AFP|Bloomberg|UPI|dpa|Xinhua|CNN)\)\s*[-–—:]*\s*",
     ("(Reuters)", "(AP)", "(AFP)", "(Bloomberg)", "(UPI)", "(dpa)", "(Xinhua)", "(CNN)")),
    (r"^\s*(?:Reuters|AP|AFP|Bloomberg|Xinhua)\s*[-–—:]\s+", ("Reuters", "AP", "AFP", "Bloomberg", "Xinhua")),
    (r"^\s*By\s+[A-Z][A-Za-z.'-]+(?:\s+[A-Z][A-Za-z.'-]+){0,3}(?:\s+and\s+[A-Z][A-Za-z.'-]+(?:\s+[A-Z][A-Za-z.'-]+){0,2})?"
     r"(?:,\s*(?:Reuters|Associated Press|AP|AFP|Bloomberg))?\s*(?:\n|$|[-–—|]\s*)", ("By ",)),
    # (one branch per first character, so that the regex engine skips ahead to where a credit can start)
    ("|".join([r"\((?:Additional )?(?:Reporting|Writing|Editing|Compiled)" + _CREDIT,
               r"Additional (?:Reporting|Writing|Editing|Compiled)" + _CREDIT]
              + [w + _CREDIT for w in ("Reporting", "Writing", "Editing", "Compiled")]),
     ("Reporting by", "Writing by", "Editing by", "Compiled by")),
    (r"(?:Copyright|©)\s*(?:\d{4}\s*)?[A-Z][\w .,&-]{0,40}?(?:All rights reserved\.?)?$", ("Copyright", "©")),
    (r"\s-\s(?:Reuters|AP News|BBC News|The Guardian|CNN)\s*$",
     ("- Reuters", "- AP News", "- BBC News", "- The Guardian", "- CNN")),
)
# (pattern for text with line breaks, the same for text without, gate): without re.M a pattern that starts
# with ^ is tried at the start only, not at every position (plain text from HTML has no line breaks).
_BOILERPLATE = [(re.compile(p, re.M), re.compile(p), frozenset(gate)) for p, gate in _BOILERPLATE_SRC]
_GATES = sorted({g for _, gate in _BOILERPLATE_SRC for g in gate}, key=lambda g: (-len(g), g))


def _gate_pattern(gates: list[str]) -> str:
    """The alternation of `gates` (in their order) with the gates of one first character as one branch: at a
    position the regex engine tries the branch of its character only, not every gate. Gates of two first
    characters never match at one position, and within a branch the order is kept, so the matches are the same."""
    rests: dict[str, list[str]] = {}
    for g in gates:
        rests.setdefault(g[0], []).append(re.escape(g[1:]))
    return "|".join(re.escape(c) + (f"(?:{'|'.join(r)})" if r != [""] else "") for c, r in rests.items())


_GATE_RX = re.compile(_gate_pattern(_GATES))
# a gate found may hide shorter gates inside it ("本报讯" holds "讯"): each found string stands for all of them
_GATES_IN = {g: frozenset(h for h in _GATES if h in g) for g in _GATES}


def strip_boilerplate(s: str) -> str:
    """Remove outlet boilerplate. One scan finds which gate substrings occur; only their patterns run."""
    found = set(_GATE_RX.findall(s))
    if not found:
        return s
    gates: set[str] = set()
    for g in found:
        gates |= _GATES_IN[g]
    lines = "\n" in s
    for multiline, single, gate in _BOILERPLATE:
        if not gate.isdisjoint(gates):
            s = (multiline if lines else single).sub(" ", s)
    return s


# Characters whose NFKC form matters here (full-width letters and digits, circled and squared forms,
# ligatures, half-width kana, super/subscripts, letter-like symbols, combining marks). NFKC is paid per
# character, and nearly every Chinese text has full-width punctuation (which NFKC changes but which counts
# neither in shingles nor marks), so NFKC runs only on text that has one of these.
_NEEDS_NFKC = re.compile(
    "[\u00b2\u00b3\u00b9\u00bc-\u00be\u0300-\u036f\u2070-\u209f\u2100-\u218f\u2460-\u24ff"
    "\u3200-\u33ff\ufb00-\ufb4f\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff61-\uffdc]"
)


def nfkc(s: str) -> str:
    """NFKC where it changes what we read (see `_NEEDS_NFKC`); other text is returned as it is."""
    # is_normalized: a C check a few times cheaper a character than the regex's scan, true of most Latin text; it
    # stops at the first character NFKC changes (Chinese text's "，" nearly at once).
    if s.isascii() or unicodedata.is_normalized("NFKC", s) or not _NEEDS_NFKC.search(s):
        return s
    return unicodedata.normalize("NFKC", s)


# --- marks ---------------------------------------------------------------------------------------

_UNITS = {
    "年": "年", "月": "月", "日": "日", "号": "日", "%": "%", "％": "%", "percent": "%", "per cent": "%",
    "个百分点": "pp", "percentage points": "pp", "percentage point": "pp", "亿": "亿", "万": "万",
    "级": "级", "billion": "b", "bn": "b", "million": "m", "trillion": "t", "人": "人",
}
# The pattern starts with the digit (the "not preceded by a digit, '.' or ','" look-behind comes after it) so
# that the regex engine can skip ahead to digits.
_MARK_SRC = (r"(\d(?<![0-9.,]\d)(?:\d{0,2}(?:,\d{3})+(?!\d)|\d*(?:\.\d+)?))\s?"
             r"([年月日号%％亿万级人]|个百分点|percentage points?|per cent|percent|billion|trillion|million|bn\b)?")
_MARK = re.compile(_MARK_SRC)  # (number, unit) of a figure found by _MARK_FOUND
_MARK_FOUND = re.compile(_MARK_SRC.replace("(", "(?:").replace("(?:?", "(?"))  # the same, one string a figure
# The same for a text without other digits than 0-9 (nearly all: full-width ones are NFKC'd): a range is cheaper
# for the regex engine to test at each character than the \d category.
_MARK_FOUND_ASCII = re.compile(_MARK_FOUND.pattern.replace(r"\d", "[0-9]"))
_QUARTER = re.compile(r"[qQ](?<![0-9.,][qQ])([1-4])\b")
_MARK_CACHE: dict[str, str] = {}  # figure as found → mark: news repeats its figures


def _norm_number(num: str) -> str:
    whole, _, frac = num.replace(",", "").partition(".")
    whole, frac = whole.lstrip("0") or "0", frac.rstrip("0")
    return whole + "." + frac if frac else whole


def _mark(found: str) -> str:
    mark = _MARK_CACHE.get(found)
    if mark is None:
        # A whole number without a unit (and the one space \s? took after it): no regex, the same mark
        digits = found[:-1] if found[-1].isspace() else found
        if digits.isascii() and digits.isdigit():
            n = digits.lstrip("0") or "0"
            mark = "y" + n if len(n) == 4 and n[:2] in ("19", "20") else n
            if len(_MARK_CACHE) > 100_000:
                _MARK_CACHE.clear()
            _MARK_CACHE[found] = mark
            return mark
        return _mark_reference(found)
    return mark


def _mark_reference(found: str) -> str:
    """The mark of a figure as `_MARK_FOUND` finds it (remembered in _MARK_CACHE)."""
    mark = _MARK_CACHE.get(found)
    if mark is None:
        parts = _MARK.match(found)
        assert parts is not None
        num, unit = parts.groups()
        n = _norm_number(num)
        u = _UNITS.get(unit.lower(), "") if unit else ""
        if u == "年" or (not u and len(n) == 4 and n[:2] in ("19", "20")):
            mark = "y" + n
        else:
            mark = n + u
        if len(_MARK_CACHE) > 100_000:
            _MARK_CACHE.clear()
        _MARK_CACHE[found] = mark
    return mark


def extract_marks(s: str, ascii_digits: bool = False) -> tuple[str, ...]:
    """The figures a title + lead state, normalised: '10月', '49.5%', 'y2024', 'q3', '81.8b', '7'.
    `ascii_digits`: the caller knows `s` has no decimal digits but 0-9 (the same marks, found more cheaply)."""
    out: dict[str, None] = {}
    if "q" in s or "Q" in s:
        for q in _QUARTER.findall(s):
            out["q" + q] = None
    cache = _MARK_CACHE
    for found in dict.fromkeys((_MARK_FOUND_ASCII if ascii_digits else _MARK_FOUND).findall(s)):
        mark = cache.get(found) or _mark(found)
        if len(mark) == 1:  # a bare digit ("1至10月", "3 people") is too common to tell events apart
            continue
        out[mark] = None
        if len(out) >= MAX_MARKS:
            break
    return tuple(sorted(out))


def conflict(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether two items' marks say they are different events.

    Missing is not conflict (a rewritten headline or a cut lead drops figures); different is: both state
    a year and none in common, or fewer than `MARK_MIN_OVERLAP` of the marks of the item with fewer are
    in the other. Marks are non-empty strings without "\x1f" (the stored separator), as `extract_marks` makes.
    """
    if not a or not b or a == b:  # reposts mostly state the same figures: no set to build
        return False
    sa = set(a)
    shared = sa.intersection(b)
    if len(shared) < MARK_MIN_OVERLAP * min(len(sa), len(set(b))):
        return True
    # Years ("y2024"): one joined string searched in C, not a comprehension over the marks (half the cost).
    return ("\x1fy" in "\x1f" + "\x1f".join(a) and "\x1fy" in "\x1f" + "\x1f".join(b)
            and "\x1fy" not in "\x1f" + "\x1f".join(shared))


# --- shingles and signature --------------------------------------------------------------------

_NON_WORD = re.compile(r"[\W_]+")
_CJK_CHARS = re.compile("[\u3040-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0010ffff]+")
_ASCII_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
_ASCII_NON_WORD = bytes(c for c in range(128) if not chr(c).isalnum())
_ASCII_NON_LETTER = bytes(c for c in range(128) if not chr(c).isalpha())


def _letters(s: str) -> str:
    """Lower case, everything that is not a letter or digit (spaces too) removed; `s` is already `nfkc`."""
    if s.isascii():  # bytes.translate does ASCII in one C pass, far cheaper than the regex
        return s.encode("ascii").translate(_ASCII_LOWER, _ASCII_NON_WORD).decode("ascii")
    return _NON_WORD.sub("", s).lower()


def is_cjk_text(s: str) -> bool:
    """A third or more of the letters (digits and punctuation aside) are Chinese/Japanese/Korean; the other
    letters counted are ASCII ones (Chinese text quotes English, rarely accented or Cyrillic words)."""
    if s.isascii():
        return False
    ascii_part = s.encode("ascii", "ignore")
    latin = len(ascii_part.translate(None, _ASCII_NON_LETTER))
    if not latin:  # then one CJK character is enough: a search stops at the first
        return _CJK_CHARS.search(s) is not None
    if (len(s) - len(ascii_part)) * 2 < latin:  # too few even if every other character were CJK
        return False
    cjk = len(s) - len(_CJK_CHARS.sub("", s))
    return cjk * 2 >= latin


_PAD = bytes(8)
_MASK = {3: np.uint64((1 << 48) - 1), 5: np.uint64((1 << 40) - 1)}
_SHIFTS = [np.uint64(8 * j) for j in range(5)]


def _windows(s: str, n: int) -> np.ndarray:
    """Every n-character window of `s` as one integer (a shorter `s`: one window, zero-padded).

    n = 3 (Chinese/Japanese): three UTF-16 code units, 16 bits each; n = 5: five code points, 8 bits
    apart (exact for ASCII, which is one 8-byte load a window masked to 5 bytes; other scripts wrap)."""
    if n == 3:
        buf = s.encode("utf-16-le") + _PAD
        k = max(len(buf) // 2 - 6, 1)
        return np.ndarray((k,), "<u8", buf, 0, (2,)) & _MASK[3]
    if s.isascii():
        k = max(len(s) - 4, 1)
        return np.ndarray((k,), "<u8", s.encode("ascii") + _PAD, 0, (1,)) & _MASK[5]
    cp = np.frombuffer(s.encode("utf-32-le") + bytes(16), dtype="<u4").astype(np.uint64)
    k = max(len(s) - 4, 1)
    v = cp[:k].copy()
    for j in range(1, 5):
        v += cp[j:j + k] << _SHIFTS[j]
    return v


def _shingle_values(t: str, x: str, n: int) -> np.ndarray:
    """The n-gram shingles of title `t` and lead `x` as integers (duplicates kept: MinHash ignores them).
    The two are shingled apart: no n-gram spans the seam."""
    if len(t) < n or len(x) < n:
        parts = [_windows(piece, n) for piece in (t, x) if piece]
        if not parts:
            return np.empty(0, dtype=np.uint64)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
    v = _windows(t + x, n)
    seam = len(t) if n == 5 or t.isascii() or max(t) < "\U00010000" else len(t.encode("utf-16-le")) // 2
    v[seam - n + 1:seam] = v[0]  # the windows across the seam become a copy of one the set has anyway
    return v


# --- Fingerprint -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the store persists per item: the signature and the marks (`to_bytes`: ~520 bytes)."""

    sig: bytes  # MinHash signature: SIG_PERMS uint32, little-endian
    marks: tuple[str, ...]  # normalised figures of title + lead, sorted (see extract_marks)

    @property
    def empty(self) -> bool:
        """No text at all: such an item is never grouped (its story is itself)."""
        return self.sig == _EMPTY

    def to_bytes(self) -> bytes:
        return _head_bytes(self.marks) + self.sig

    @classmethod
    def from_bytes(cls, b: bytes) -> Fingerprint:
        """The fingerprint stored as `b`; one of an older format reads as empty (its shingle values are
        not comparable with today's, so it is never the same story as anything)."""
        sig = signature_of(b)
        if sig == _EMPTY:
            return cls(_EMPTY, ())
        m = b[3:3 + struct.unpack_from("<H", b, 1)[0]].decode()
        return cls(sig, tuple(m.split("\x1f")) if m else ())


_EMPTY_FP = Fingerprint(_EMPTY, ())


def marks_of(b: bytes) -> tuple[str, ...]:
    """`Fingerprint.from_bytes(b).marks` without copying the signature or making a Fingerprint (the stories'
    confirmation reads the marks of stored fingerprints only)."""
    version, n = _HEAD.unpack_from(b)
    if version != _VERSION or len(b) != 3 + n + 4 * SIG_PERMS or b.endswith(_EMPTY):
        return Fingerprint.from_bytes(b).marks  # rare: an older format or an empty one (or a malformed one: raises)
    return tuple(b[3:3 + n].decode().split("\x1f")) if n else ()


_SIG = struct.Struct(f"<{SIG_PERMS}I")  # SIG_PERMS values as little-endian uint32 (fewer steps than array's)


def signature_of(b: bytes) -> bytes:
    """`Fingerprint.from_bytes(b).sig` without reading the marks (the story index needs the signature only)."""
    version, n = struct.unpack_from("<BH", b)
    if version < _VERSION:
        return _EMPTY
    if version != _VERSION:
        raise ValueError(f"fingerprint format {version}, expected {_VERSION}")
    sig = bytes(b[3 + n:])
    if len(sig) != 4 * SIG_PERMS:
        raise ValueError(f"fingerprint signature of {len(sig)} bytes, expected {4 * SIG_PERMS}")
    return sig


class Lead(NamedTuple):
    """An item's title and the start of its text, normalised once (`read_lead`) for both the fingerprint
    and the keywords. A NamedTuple, not a frozen dataclass: as immutable, and made at half the cost."""

    title: str  # NFKC where it matters, boilerplate removed
    text: str  # the same, of the first RAW_CJK (Chinese/Japanese) or RAW_CAP raw characters of the text
    cjk: bool  # Chinese/Japanese: 3-character shingles and jieba keywords; otherwise 5 and the Latin scorer


def read_lead(title: str, text: str) -> Lead:
    """`text` is the item's plain text (no HTML); only its start is read."""
    tc = strip_boilerplate(nfkc(title or ""))
    text = text or ""
    cjk = is_cjk_text(tc + text[:CJK_SAMPLE])
    return Lead(tc, strip_boilerplate(nfkc(text[:RAW_CJK if cjk else RAW_CAP])), cjk)


def fingerprint(title: str, text: str) -> Fingerprint:
    """The fingerprint of an item: `text` is its plain text (no HTML); only the lead counts."""
    return fingerprint_of(read_lead(title, text))


def fingerprint_of(lead: Lead) -> Fingerprint:
    return fingerprints_of([lead])[0]


def _shingles_of(lead: Lead) -> np.ndarray:
    n, size = (3, LEAD_CJK) if lead.cjk else (5, LEAD_LATIN)
    # Chinese text is nearly all letters: 1.25 × as many characters as the lead needs are nearly always enough
    x = _letters(lead.text[: size * 5 // 4]) if lead.cjk else ""
    if len(x) < size:
        x = _letters(lead.text)
    return _shingle_values(_letters(lead.title), x[:size], n)


_DROP, _SPECIAL = 0, 0xFFFFFFFF


@functools.cache
def _letter_table() -> np.ndarray:
    """Code point (BMP) → what `_letters` makes of it: its lower case, `_DROP` when it is not a letter or digit,
    or `_SPECIAL` when its lower case is not one character of its own (İ → i̇; Σ, whose lower case depends on
    its neighbours) or it is a decimal digit other than 0-9 (marks are then read with \\d): a text with one of
    those takes `_shingles_of`."""
    table = np.zeros(0x10000, dtype=np.uint32)
    for c in range(0x10000):
        ch = chr(c)
        if ch.isalnum():
            low = ch.lower()
            plain = len(low) == 1 and c != 0x3A3 and not (c > 0x7F and ch.isdecimal())
            table[c] = ord(low) if plain else _SPECIAL
    return table


def _letter_rows(leads: Sequence[Lead], n: int, size: int,
                 read: int | None = None) -> tuple[np.ndarray, list[int], list[int]]:
    """`_shingles_of` of many leads of one kind (`n`, `size`) at once, in numpy calls per batch, not per lead:
    (the shingle values of the leads it could do, one after another; their indexes in `leads`; how many
    values each has). A lead it leaves out (astral or `_SPECIAL` characters, a title or lead shorter than
    `n` letters) is for `_shingles_of`. `read`: only so many characters of each text are read (the letters a
    lead needs are nearly always there); a lead whose text is longer and has fewer than `size` letters in them
    is left out too."""
    pieces = [s for lead in leads for s in (lead.title, lead.text if read is None else lead.text[:read])]
    cp = np.frombuffer("".join(pieces).encode("utf-32-le"), dtype=np.uint32)
    bounds = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in pieces], out=bounds[1:])
    low = _letter_table().take(cp & 0xFFFF)  # (take: cheaper than indexing with an array)
    odd = (cp > 0xFFFF) | (low == _SPECIAL)
    keep = low != _DROP
    # np.empty and the one zero set by hand: zeroing arrays of a feed's characters is a memset as long as they are
    at = np.empty(len(cp) + 1, dtype=np.int64)  # letters kept before each character
    at[0] = 0
    np.cumsum(keep, out=at[1:])
    pos = at[bounds]  # where each piece's letters start (and the last one ends)
    starts, t_len = pos[0:-1:2], pos[1::2] - pos[0:-1:2]
    x_len = np.minimum(pos[2::2] - pos[1::2], size)
    ok = (t_len >= n) & (x_len >= n)
    if read is not None:
        ok &= (x_len == size) | (np.array([len(lead.text) for lead in leads]) <= read)
    if odd.any():
        bad = np.empty(len(cp) + 1, dtype=np.int64)
        bad[0] = 0
        np.cumsum(odd, out=bad[1:])
        ok &= bad[bounds[2::2]] == bad[bounds[0:-1:2]]
    done = np.flatnonzero(ok)
    if not done.size:
        return np.empty(0, dtype=np.uint64), [], []
    letters = np.empty(int(at[-1]) + n, dtype=np.uint64)
    letters[:-n] = low[keep]
    letters[-n:] = 0
    bits = 16 if n == 3 else 8  # see _windows: UTF-16 units (the BMP's code points) or code points 8 bits apart
    windows = letters[:-n].copy()
    for j in range(1, n):
        windows += letters[j:j - n] << np.uint64(bits * j)
    a, t, counts = starts[done], t_len[done], t_len[done] + x_len[done] - n + 1
    row_start = np.zeros(len(done), dtype=np.int64)
    np.cumsum(counts[:-1], out=row_start[1:])
    idx = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(a - row_start, counts)
    for j in range(1, n):  # the windows across the seam become a copy of the first (as in _shingle_values)
        idx[row_start + t - j] = a
    return windows.take(idx), done.tolist(), counts.tolist()


_MARKS_CJK, _MARKS_LATIN = int(1.2 * LEAD_CJK), int(1.2 * LEAD_LATIN)  # raw characters read for marks
# Characters of a Chinese/Japanese text shingled in a batch (as `_shingles_of` reads them first). They hold the
# marks' span, so a lead taken there has no decimal digits but 0-9 where the marks are read.
_READ_CJK = LEAD_CJK * 5 // 4
assert _READ_CJK >= _MARKS_CJK


def _signed(leads: Sequence[Lead]) -> tuple[list[int], list[list[int]], list[tuple[str, ...]]]:
    """(the indexes in `leads` of those with text, each one's signature values, its marks) for `fingerprints_of`
    and `fingerprint_bytes_of`: the shingles of a feed's leads of one kind together (`_letter_rows`), the
    signatures in one rensa call, and each step over all leads before the next (the steps' code and tables
    stay in the CPU's caches)."""
    order: list[int] = []
    parts: list[np.ndarray] = []
    sizes: list[int] = []
    todo: list[int] = []
    for cjk, n, size, read in ((True, 3, LEAD_CJK, _READ_CJK), (False, 5, LEAD_LATIN, None)):
        kind = [k for k, lead in enumerate(leads) if lead.cjk is cjk]
        if not kind:
            continue
        flat, done, counts = _letter_rows([leads[k] for k in kind], n, size, read)
        order += [kind[d] for d in done]
        parts.append(flat)
        sizes += counts
        todo += [kind[d] for d in sorted(set(range(len(kind))).difference(done))]
    batched = len(order)  # these have no decimal digits but 0-9 (see _letter_table)
    for k in todo:  # rare: what _letter_rows leaves out, one lead at a time
        values = _shingles_of(leads[k])
        if values.size:
            order.append(k)
            parts.append(values)
            sizes.append(values.size)
    if not order:
        return [], [], []
    ends = np.cumsum(sizes).tolist()
    flat = np.concatenate(parts) if len(parts) > 1 else parts[0]
    rows = RMinHash.digest_matrix_from_flat_token_hashes(flat, [0, *ends], SIG_PERMS, SEED).to_rows()
    marks = []
    for i, k in enumerate(order):
        lead = leads[k]
        # Marks come from about the span the signature covers (raw text has spaces and punctuation too).
        marks.append(extract_marks(lead.title + "\n" + lead.text[: _MARKS_CJK if lead.cjk else _MARKS_LATIN],
                                   i < batched))
    return order, rows, marks


def fingerprints_of(leads: Sequence[Lead]) -> list[Fingerprint]:
    """`fingerprint_of` of each lead, the same values, made for a feed's leads at once (`_signed`)."""
    out = [_EMPTY_FP] * len(leads)
    for k, row, marks in zip(*_signed(leads)):
        out[k] = Fingerprint(_SIG.pack(*row), marks)
    return out


def _head_bytes(marks: tuple[str, ...]) -> bytes:
    """A stored fingerprint's bytes before its signature: the format's version, the marks' size, the marks."""
    m = "\x1f".join(marks).encode()
    return _HEAD.pack(_VERSION, len(m)) + m


_HEAD = struct.Struct("<BH")


def fingerprint_bytes_of(leads: Sequence[Lead]) -> list[bytes]:
    """`[fp.to_bytes() for fp in fingerprints_of(leads)]`, the same bytes, without making a Fingerprint (a
    frozen dataclass costs a Python __init__)."""
    empty = _EMPTY_FP.to_bytes()
    out = [empty] * len(leads)
    for k, row, marks in zip(*_signed(leads)):
        out[k] = _head_bytes(marks) + _SIG.pack(*row)
    return out


# Band key = the band's ROWS values dotted with fixed odd 64-bit multipliers, plus a per-band salt, mod 2**64
# (one integer matrix product for all bands), read as a signed 64-bit int. Keys are only compared for
# equality: two different bands of values collide with probability ~2**-61.
_BAND_MUL = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)[:ROWS]
_BAND_SALT = (np.arange(BANDS, dtype=np.uint64) + np.uint64(1)) * np.uint64(0xD6E8FEB86659FD93)


def band_keys(fp: Fingerprint) -> list[int]:
    """One signed 64-bit key per LSH band (BANDS keys); none for an empty fingerprint."""
    if fp.sig == _EMPTY:
        return []
    h = np.ndarray((BANDS, ROWS), "<u4", fp.sig) @ _BAND_MUL
    h += _BAND_SALT
    keys: list[int] = h.view(np.int64).tolist()
    return keys


def band_matrix(sigs: np.ndarray) -> np.ndarray:
    """`band_keys` of many signatures at once: `sigs` is k × SIG_PERMS uint32 (an empty fingerprint's row
    too: the caller leaves those out), the result k × BANDS int64, row by row the same keys."""
    h = sigs[:, :BANDS * ROWS].reshape(len(sigs), BANDS, ROWS) @ _BAND_MUL
    h += _BAND_SALT
    keys: np.ndarray = h.view(np.int64)
    return keys


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated Jaccard similarity of the two shingle sets: the share of equal signature values."""
    if a.empty or b.empty:
        return 0.0
    va, vb = np.frombuffer(a.sig, dtype="<u4"), np.frombuffer(b.sig, dtype="<u4")
    return int(np.count_nonzero(va == vb)) / SIG_PERMS


def same_story(a: Fingerprint, b: Fingerprint, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """Similar enough, and the figures agree."""
    return similarity(a, b) >= threshold and not conflict(a.marks, b.marks)


# --- the story rule, in memory -----------------------------------------------------------------

class Grouper:
    """Groups items into stories as they arrive, the way the store does with a table of band keys.

    A new item's candidates are the items sharing a band key with it, published within `WINDOW_SECONDS`
    of it. Of those that are `same_story`, it joins the story of the most similar (ties: the earliest
    published, then the smallest id); with none, it starts a story whose id is its own id. A story's id
    never changes as members join.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, window: float = WINDOW_SECONDS) -> None:
        self.threshold = threshold
        self.window = window
        self._buckets: dict[int, str | list[str]] = {}  # band key → item id(s); a str while alone
        self._items: dict[str, tuple[Fingerprint, float]] = {}
        self._story: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._story)

    def candidates(self, fp: Fingerprint, keys: list[int] | None = None) -> list[str]:
        """Items sharing a band key with `fp`, in first-seen order."""
        seen: dict[str, None] = {}
        for key in band_keys(fp) if keys is None else keys:
            ids = self._buckets.get(key)
            if ids is None:
                continue
            for other in ((ids,) if isinstance(ids, str) else ids):
                seen.setdefault(other, None)
        return list(seen)

    def add(self, item_id: str, fp: Fingerprint, published: float) -> str:
        """Place an item and return its story id (an item added twice keeps its story)."""
        if item_id in self._story:
            return self._story[item_id]
        keys = band_keys(fp)
        best: tuple[float, float, str] | None = None
        for other in self.candidates(fp, keys):
            ofp, opub = self._items[other]
            if abs(opub - published) > self.window:
                continue
            s = similarity(fp, ofp)
            if s < self.threshold or conflict(fp.marks, ofp.marks):
                continue
            rank = (-s, opub, other)
            if best is None or rank < best:
                best = rank
        story = self._story[best[2]] if best is not None else item_id
        self._story[item_id] = story
        self._items[item_id] = (fp, published)
        for key in keys:
            ids = self._buckets.get(key)
            if ids is None:
                self._buckets[key] = item_id
            elif isinstance(ids, str):
                self._buckets[key] = [ids, item_id]
            else:
                ids.append(item_id)
        return story

    def story_of(self, item_id: str) -> str:
        return self._story[item_id]

    def stories(self) -> dict[str, list[str]]:
        """Story id → its items in arrival order."""
        out: dict[str, list[str]] = {}
        for item, story in self._story.items():
            out.setdefault(story, []).append(item)
        return out
