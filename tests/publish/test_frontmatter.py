"""YAML scalars for Hexo front matter (SPEC §4): every value reads back exactly.

Checked against PyYAML (YAML 1.1) here and against the js-yaml 4 and
hexo-front-matter that real Hexo uses (one node process for all values).
"""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hostile_values import HOSTILE  # noqa: E402

from tidings.publish.frontmatter import rfc2822_gmt, yaml_safe_text, yaml_scalar  # noqa: E402

SEED = Path(__file__).resolve().parents[1] / "fixtures" / "seed" / "expected-post.md"
SEED_TITLE = "吉林省委书记提出7个绝对到位后，长春市委书记凌晨2点开会"
SEED_IMG = (
    "https://n.sinaimg.cn/sinakd20220314s/238/w640h398/20220314/"
    "fa43-890a8ad7c416df64a3e9dd392fe15a38.jpg"
)
PREFS = ("plain", "single")
# Anything PyYAML or js-yaml could treat as a line break.
LINE_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")


def _load(scalar: str):
    return yaml.safe_load(f"k: {scalar}")["k"]


def _has_surrogate(s: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in s)


def test_hostile_list_is_big_enough():
    assert len(HOSTILE) >= 60
    assert len(set(HOSTILE)) == len(HOSTILE)


@pytest.mark.parametrize("prefer", PREFS)
@pytest.mark.parametrize("value", HOSTILE, ids=[repr(v)[:40] for v in HOSTILE])
def test_pyyaml_round_trip(value, prefer):
    scalar = yaml_scalar(yaml_safe_text(value), prefer)
    assert not any(b in scalar for b in LINE_BREAKS), scalar
    assert "\t" not in scalar
    assert not _has_surrogate(scalar)
    scalar.encode("utf-8")  # always writable
    got = _load(scalar)
    assert got == yaml_safe_text(value)
    if not _has_surrogate(value):
        assert got == value
    # also as a block-sequence item, the way categories are written
    assert yaml.safe_load(f"categories: \n - {scalar}\n")["categories"] == [got]
    # unsanitised input gives the same result (yaml_scalar drops surrogates too)
    assert yaml_scalar(value, prefer) == scalar


def test_safe_text_drops_only_surrogates():
    assert yaml_safe_text("lone\ud800surrogate\udfff") == "lonesurrogate"
    keep = "a\x00\x07\t\n\r\x85\u2028\u2029\ufeff\ufffe\uffff😀中"
    assert yaml_safe_text(keep) == keep
    assert yaml_safe_text("") == ""


def test_seed_values():
    assert yaml_scalar(SEED_TITLE, "single") == f"'{SEED_TITLE}'"
    assert yaml_scalar("新浪财经") == "新浪财经"
    assert yaml_scalar("金融") == "金融"
    assert yaml_scalar("新浪财经－国內") == "新浪财经－国內"
    assert yaml_scalar(SEED_IMG, "single") == f"'{SEED_IMG}'"
    assert yaml_scalar("", "single") == "''"
    assert yaml_scalar("", "plain") == "''"
    assert rfc2822_gmt(datetime(2022, 3, 14, 6, 22, 47, tzinfo=UTC)) == "Mon, 14 Mar 2022 06:22:47 GMT"


def test_seed_lines_are_reproduced():
    """The seed's front-matter lines, rebuilt with these functions, byte for byte."""
    text = SEED.read_text(encoding="utf-8")
    head = text.split("\n---\n", 2)[1]
    date = rfc2822_gmt(datetime(2022, 3, 14, 14, 22, 47, tzinfo=timezone(timedelta(hours=8))))
    rebuilt = "\n".join(
        [
            f"title: {yaml_scalar(SEED_TITLE, 'single')}",
            "categories: ",
            *(f" - {yaml_scalar(c)}" for c in ("金融", "新浪财经", "新浪财经－国內")),
            f"headimg: {yaml_scalar(SEED_IMG, 'single')}",
            f"author: {yaml_scalar('新浪财经')}",
            "comments: false",
            f"date: {date}",
            f"thumbnail: {yaml_scalar(SEED_IMG, 'single')}",
        ]
    )
    assert head.removeprefix("---\n") == rebuilt


@pytest.mark.parametrize(
    "value",
    ["hello world", "新浪财经", "a:b", "a#b", "C++", "7个绝对到位", "it's", "100%", "x - y", "a, b",
     "Mon, 14 Mar 2022 06:22:47 GMT", "...", "https://example.com/a?b=c#d", "😀", "1.2.3", "v1.5",
     "no way", "<script>", "=="],
)
def test_plain_when_yaml_does_not_need_quotes(value):
    assert yaml_scalar(value) == value
    assert _load(value) == value


@pytest.mark.parametrize(
    "value",
    ["yes", "No", "ON", "off", "y", "N", "true", "FALSE", "null", "Null", "~", "1.5", "1e5", "-1", "+1",
     "0o17", "012", "0x1F", "0b11", "1_000", "1:20", "2022-03-14", "2022-03-14 06:22:47", ".inf",
     "-.INF", ".nan", "<<", "=", "a: b", "a #b", "trailing:", "- x", "-x", "#x", "'q'", '"q"',
     "%x", "@x", "`x`", "|x", ">x", "[x", "{x", "]x", "}x", "?x", ",x", "!x", "&x", "*x", " x", "x ",
     "---", ":x", "\u3000x"],
)
def test_quoted_when_yaml_needs_it(value):
    assert yaml_scalar(value) == "'" + value.replace("'", "''") + "'"
    assert _load(yaml_scalar(value)) == value


@pytest.mark.parametrize(
    "value, expected",
    [
        ("a\nb", '"a\\nb"'),
        ("a\r\nb", '"a\\r\\nb"'),
        ("a\tb", '"a\\tb"'),
        ("q\"\\\n", '"q\\"\\\\\\n"'),
        ("\x00\x01\x7f\x85\x9f", '"\\0\\x01\\x7F\\x85\\x9F"'),
        ("\u2028\u2029\ufeff\ufffe", '"\\u2028\\u2029\\uFEFF\\uFFFE"'),
        ("中\n😀", '"中\\n😀"'),  # non-ASCII printable stays literal
    ],
)
def test_double_quoted_escapes(value, expected):
    for prefer in PREFS:
        assert yaml_scalar(value, prefer) == expected
    assert _load(expected) == value


def test_single_prefers_single_quotes():
    assert yaml_scalar("plain", "single") == "'plain'"
    assert yaml_scalar("it's", "single") == "'it''s'"
    assert yaml_scalar("  spaced  ", "single") == "'  spaced  '"


def test_bad_arguments():
    with pytest.raises(ValueError):
        yaml_scalar("x", "double")
    with pytest.raises(TypeError):
        yaml_scalar(5)  # type: ignore[arg-type]


def test_rfc2822_gmt():
    assert rfc2822_gmt(datetime(2022, 3, 14, 6, 22, 47)) == "Mon, 14 Mar 2022 06:22:47 GMT"  # naive = UTC
    tz = timezone(timedelta(hours=-5))
    assert rfc2822_gmt(datetime(2021, 12, 31, 23, 5, 9, 999999, tzinfo=tz)) == "Sat, 01 Jan 2022 04:05:09 GMT"
    days = {rfc2822_gmt(datetime(2024, 1, d))[:3] for d in range(1, 8)}
    assert days == {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
    months = [rfc2822_gmt(datetime(2024, m, 1)).split()[2] for m in range(1, 13)]
    assert months == "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def test_rfc2822_ignores_locale():
    import locale

    old = locale.setlocale(locale.LC_TIME)
    for name in ("de_DE.UTF-8", "zh_CN.UTF-8", "fr_FR.UTF-8"):
        try:
            locale.setlocale(locale.LC_TIME, name)
        except locale.Error:
            continue
        try:
            assert rfc2822_gmt(datetime(2022, 3, 14, 6, 22, 47)) == "Mon, 14 Mar 2022 06:22:47 GMT"
        finally:
            locale.setlocale(locale.LC_TIME, old)


@settings(max_examples=500, deadline=None)
@given(value=st.text(), prefer=st.sampled_from(PREFS))
def test_property_round_trip(value, prefer):
    scalar = yaml_scalar(value, prefer)
    assert not any(b in scalar for b in LINE_BREAKS)
    assert _load(scalar) == yaml_safe_text(value)


_YAMLISH = list("-?:,[]{}#&*!|>'\"%@`~=<.+_0123456789eExXoObBaynNtTfF \t\n\r\\\x00\x85\u2028\ufeff中😀")


def _random_values(n: int = 3000) -> list[str]:
    rnd = random.Random(20220314)
    out = []
    for _ in range(n):
        k = rnd.randint(1, 8)
        out.append("".join(rnd.choice(_YAMLISH) for _ in range(k)))
    return out


# One node process checks every value: js-yaml's load of `k: <scalar>` and
# hexo-front-matter's parse of a seed-shaped post (leading blank line, ---).
_NODE_CHECK = r"""
const path = require('path');
const base = path.join(process.argv[2], 'node_modules');
const jsyaml = require(path.join(base, 'js-yaml'));
const hfm = require(path.join(base, 'hexo-front-matter'));
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = cases.map((s) => {
  const r = {};
  try { r.jsyaml = jsyaml.load('k: ' + s + '\n').k; } catch (e) { r.jsyaml_error = String(e); }
  try {
    const post = '\n---\ntitle: ' + s + '\ncategories: \n - ' + s + '\nauthor: ' + s +
                 '\ncomments: false\n---\n\n<div>   \nbody\n  </div>\n';
    const d = hfm.parse(post);
    r.hexo = [d.title, d.categories, d.author, d.comments, d._content];
  } catch (e) { r.hexo_error = String(e); }
  r.version = jsyaml.version || null;
  return r;
});
process.stdout.write(JSON.stringify(out));
"""


@pytest.mark.hexo
def test_js_yaml_and_hexo_front_matter_round_trip(tmp_path):
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH: cannot run js-yaml / hexo-front-matter")
    from hexo_harness import ensure_hexo

    cache = ensure_hexo()
    values = [yaml_safe_text(v) for v in HOSTILE] + _random_values()
    cases = [(v, yaml_scalar(v, p)) for v in values for p in PREFS]
    script = tmp_path / "check.js"
    script.write_text(_NODE_CHECK, encoding="utf-8")
    proc = subprocess.run(
        ["node", str(script), str(cache)],
        input=json.dumps([s for _, s in cases]), capture_output=True, text=True, encoding="utf-8",
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert len(results) == len(cases)
    failures = []
    for (value, scalar), r in zip(cases, results):
        want_hexo = [value, [value], value, False, "\n<div>   \nbody\n  </div>\n"]
        if r.get("jsyaml") != value or r.get("hexo") != want_hexo:
            failures.append((value, scalar, r))
    assert not failures, failures[:10]


def test_raw_unsafe_is_the_complement_of_the_printable_set():
    """_RAW_UNSAFE is written as a positive class (cheap to compile); it must be the same set as the
    negated form that spells out what may appear raw."""
    import re

    from tidings.publish.frontmatter import _RAW_UNSAFE

    printable = re.compile("[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
    for code in range(0x110000):
        ch = chr(code)
        assert bool(_RAW_UNSAFE.match(ch)) != bool(printable.match(ch)), hex(code)


@settings(max_examples=500, deadline=None)
@given(dt=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                    timezones=st.one_of(st.none(), st.timezones())))
def test_rfc2822_gmt_is_what_email_utils_writes(dt):
    """rfc2822_gmt formats directly (it runs per post); the output is email.utils.format_datetime's."""
    from email.utils import format_datetime

    utc = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    assert rfc2822_gmt(dt) == format_datetime(utc.replace(microsecond=0), usegmt=True)


def _rfc2822_gmt_reference(dt: datetime) -> str:
    """rfc2822_gmt as it was: %-formatting."""
    if dt.tzinfo is not None and dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    days, months = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), " Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ")
    return "%s, %02d %s %04d %02d:%02d:%02d GMT" % (  # noqa: UP031 - the reference as written
        days[dt.weekday()], dt.day, months[dt.month], dt.year, dt.hour, dt.minute, dt.second)


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
       st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5)), None]))
def test_rfc2822_gmt_is_the_percent_formatting(dt, tz):
    dt = dt.replace(tzinfo=tz)
    assert rfc2822_gmt(dt) == _rfc2822_gmt_reference(dt)
