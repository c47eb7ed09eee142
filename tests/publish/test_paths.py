"""Safe post paths (SPEC §4): every OS, Hexo never skips them, ≤ 200 bytes, no overwrites."""
from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hostile_values import HOSTILE  # noqa: E402

from tidings.publish.paths import safe_component, unique_post_path  # noqa: E402

SEED_COMPONENTS = ["金融", "新浪财经", "新浪财经－国內"]
SEED_TITLE = "吉林省委书记提出7个绝对到位后，长春市委书记凌晨2点开会"
SEED_PATH = "金融/新浪财经/新浪财经－国內/吉林省委书记提出7个绝对到位后，长春市委书记凌晨2点开会.md"
ID = "0123456789abcdef"

FORBIDDEN = set('/\\:*?"<>|#%')
INVISIBLE = set("\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{d}" for p in ("COM", "LPT") for d in "123456789¹²³"}


def assert_safe(c: str, max_bytes: int = 200) -> None:
    assert c, "empty component"
    assert c not in (".", "..")
    assert not (set(c) & FORBIDDEN), c
    assert not (set(c) & INVISIBLE), c
    assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in c), repr(c)
    assert not re.search(r"\s", c.replace(" ", "")), repr(c)  # only plain spaces
    assert "  " not in c
    assert c[0] not in "._ " and c[-1] not in ". ", repr(c)
    assert c.split(".")[0].rstrip(" ").upper() not in RESERVED, c
    assert len(c.encode("utf-8")) <= max_bytes


@pytest.mark.parametrize("value", HOSTILE, ids=[repr(v)[:40] for v in HOSTILE])
def test_hostile_components_are_safe(value):
    assert_safe(safe_component(value))
    for n in (8, 20, 64):
        assert_safe(safe_component(value, max_bytes=n), max_bytes=n)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("CON", "CON_"),
        ("nul", "nul_"),
        ("COM1.txt", "COM1_.txt"),
        ("lpt9", "lpt9_"),
        ("console", "console"),
        ("..", "untitled"),
        (".", "untitled"),
        ("", "untitled"),
        ("   ", "untitled"),
        (".hidden", "hidden"),
        ("_draft", "draft"),
        ("_.._", "untitled"),
        ("../../etc/passwd", "etcpasswd"),
        ("name. . .", "name"),
        ("-dash", "-dash"),
        ("a\n\tb", "a b"),
        ("line1\r\nline2", "line1 line2"),
        ("a : b", "a b"),
        ("100% sure", "100 sure"),
        ("what?", "what"),
        ("\u202eexe.txt", "exe.txt"),
        ("zero\u200bwidth", "zerowidth"),
        ("a\x00b", "ab"),
        ("\u3000全角\u3000空格\u3000", "全角 空格"),
        ("新浪财经－国內", "新浪财经－国內"),
        (SEED_TITLE, SEED_TITLE),
    ],
)
def test_component_examples(value, expected):
    assert safe_component(value) == expected


def test_fallback():
    assert safe_component("///", fallback="x1") == "x1"
    assert safe_component("", fallback="..") == "untitled"  # an unsafe fallback is not used as is
    assert safe_component("", fallback="CON") == "CON_"


def test_truncation_keeps_whole_characters():
    long = "长" * 300  # 900 bytes
    c = safe_component(long)
    assert c == "长" * 66  # 198 bytes: a 67th character would make 201
    emoji = "😀" * 100  # 4 bytes each
    assert safe_component(emoji) == "😀" * 50
    assert safe_component("ab" + "😀" * 100, max_bytes=9) == "ab😀"
    # truncation does not leave a trailing space or dot
    assert safe_component("a" * 199 + " b") == "a" * 199
    assert safe_component("a" * 199 + ".b") == "a" * 199


def test_seed_path():
    assert unique_post_path(SEED_COMPONENTS, SEED_TITLE, ID, lambda p: False) == SEED_PATH


def test_collision_adds_the_id():
    owners = {SEED_PATH: "another-item"}
    path = unique_post_path(SEED_COMPONENTS, SEED_TITLE, ID, lambda p: p in owners)
    assert path == SEED_PATH.removesuffix(".md") + f"-{ID}.md"
    # the pathological case: the suffixed name is taken too
    owners[path] = "third"
    path3 = unique_post_path(SEED_COMPONENTS, SEED_TITLE, ID, lambda p: p in owners)
    assert path3 == SEED_PATH.removesuffix(".md") + f"-{ID}-2.md"
    assert len({SEED_PATH, path, path3}) == 3


def test_collision_with_a_long_title_stays_within_200_bytes():
    title = "长" * 300
    plain = unique_post_path(["c"], title, ID, lambda p: False)
    name = plain.split("/")[-1]
    assert name == "长" * 65 + ".md" and len(name.encode()) <= 200
    suffixed = unique_post_path(["c"], title, ID, lambda p: not p.endswith(f"-{ID}.md"))
    name = suffixed.split("/")[-1]
    assert name.endswith(f"-{ID}.md") and name.startswith("长" * 50)
    assert len(name.encode()) <= 200
    assert_safe(name)


def test_empty_title_uses_the_id():
    assert unique_post_path(["a"], "", ID, lambda p: False) == f"a/{ID}.md"
    assert unique_post_path(["", "..", "_x"], "///", ID, lambda p: False) == f"untitled/untitled/x/{ID}.md"


def test_hostile_paths_stay_inside_and_can_be_written(tmp_path):
    base = (tmp_path / "source" / "_posts").resolve()
    base.mkdir(parents=True)
    written: dict[str, str] = {}
    for i, value in enumerate(HOSTILE):
        item_id = f"{i:016x}"
        rel = unique_post_path([value, value, "chan"], value, item_id, lambda p: p in written)
        assert rel not in written
        written[rel] = item_id
        parts = rel.split("/")
        assert len(parts) == 4 and parts[-1].endswith(".md")
        for part in parts:
            assert_safe(part)
        target = (base / rel).resolve()
        assert target.is_relative_to(base), rel
        assert not any(p.startswith((".", "_")) for p in target.relative_to(base).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(item_id, encoding="utf-8")
    # nothing overwrote anything
    files = sorted(p for p in base.rglob("*.md"))
    assert len(files) == len(HOSTILE)
    assert {p.read_text(encoding="utf-8") for p in files} == set(written.values())


@settings(max_examples=500, deadline=None)
@given(name=st.text(), max_bytes=st.integers(min_value=8, max_value=255))
def test_property_safe_component(name, max_bytes):
    c = safe_component(name, max_bytes=max_bytes)
    assert_safe(c, max_bytes=max_bytes)
    assert safe_component(c, max_bytes=max_bytes) == c  # idempotent


@settings(max_examples=200, deadline=None)
@given(components=st.lists(st.text(), min_size=1, max_size=3), stem=st.text(), taken=st.booleans())
def test_property_unique_post_path(components, stem, taken):
    rel = unique_post_path(components, stem, ID, lambda p: taken and not p.endswith(f"-{ID}.md"))
    parts = rel.split("/")
    assert len(parts) == len(components) + 1
    for part in parts:
        assert_safe(part)
    assert parts[-1].endswith(f"-{ID}.md" if taken else ".md")
    base = Path("/srv/blog/source/_posts")
    assert (base / rel).resolve().is_relative_to(base)
