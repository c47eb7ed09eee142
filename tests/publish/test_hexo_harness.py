"""Real Hexo builds the posts we write (SPEC §4: no error, no warning, no post dropped)."""
from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hexo_harness import hexo_generate, make_site  # noqa: E402
from hostile_values import HOSTILE  # noqa: E402

from tidings.publish.frontmatter import rfc2822_gmt, yaml_safe_text, yaml_scalar  # noqa: E402
from tidings.publish.paths import unique_post_path  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.hexo,
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not on PATH: cannot run real Hexo"),
]

SEED = Path(__file__).resolve().parents[1] / "fixtures" / "seed" / "expected-post.md"
SEED_REL = "金融/新浪财经/新浪财经－国內/吉林省委书记提出7个绝对到位后，长春市委书记凌晨2点开会.md"
SEED_TITLE = "吉林省委书记提出7个绝对到位后，长春市委书记凌晨2点开会"


def _write(posts: Path, rel: str, text: str) -> None:
    p = posts / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text.encode("utf-8"))


def _assert_clean(result) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.warnings == [], result.warnings


def test_three_posts_including_the_seed(tmp_path):
    site = make_site(tmp_path / "site")
    posts = site / "source" / "_posts"
    _write(posts, SEED_REL, SEED.read_text(encoding="utf-8"))
    _write(posts, "hello.md", "---\ntitle: Hello world\ndate: 2024-01-02 03:04:05\n---\n\nFirst *post*.\n")
    _write(
        posts,
        "a/b/quotes.md",
        "\n---\ntitle: 'it''s \"quoted\"'\ncategories: \n - a\n - b\nauthor: x\ncomments: false\n"
        "date: Tue, 02 Jan 2024 03:04:05 GMT\nthumbnail: ''\n---\n\n<div>   \n<p>q</p>\n  </div>\n",
    )
    result = hexo_generate(site)
    _assert_clean(result)
    assert result.sources == sorted(["_posts/" + SEED_REL, "_posts/hello.md", "_posts/a/b/quotes.md"])

    seed = result.page_for("_posts/" + SEED_REL)
    assert seed.title == SEED_TITLE
    assert seed.path == "2022/03/14/金融/新浪财经/新浪财经－国內/" + SEED_TITLE + "/"
    assert '<span class="tidings-category">新浪财经－国內</span>' in seed.html
    assert "长春市委书记凌晨2点开会" in seed.html  # body text came through

    assert result.page_for("_posts/hello.md").title == "Hello world"
    assert "<em>post</em>" in result.page_for("_posts/hello.md").html
    assert result.page_for("_posts/a/b/quotes.md").title == 'it\'s "quoted"'


def test_harness_sees_dropped_posts_and_errors(tmp_path):
    """The checks above are only worth something if a skipped post or a
    broken front matter is visible to them."""
    site = make_site(tmp_path / "site")
    posts = site / "source" / "_posts"
    _write(posts, "ok.md", "---\ntitle: ok\n---\nok\n")
    _write(posts, "_skipped.md", "---\ntitle: skipped\n---\nHexo ignores names starting with _\n")
    _write(posts, "broken.md", "---\ntitle: a: b: c\n---\nbroken YAML\n")
    result = hexo_generate(site)
    assert "_posts/_skipped.md" not in result.sources
    assert "_posts/ok.md" in result.sources
    assert any("broken.md" in w or "YAML" in w for w in result.warnings), result.stdout + result.stderr


def test_hostile_titles_paths_and_categories_build(tmp_path):
    """Every hostile value as title, author, category and file name: one page
    per file, the title reads back exactly, no error, no warning."""
    site = make_site(tmp_path / "site")
    posts = site / "source" / "_posts"
    written: dict[str, str] = {}
    date = rfc2822_gmt(datetime(2022, 3, 14, 6, 22, 47, tzinfo=UTC))
    for i, raw in enumerate(HOSTILE):
        value = yaml_safe_text(raw)
        rel = unique_post_path([value, "src", "chan"], value, f"{i:016x}", lambda p: p in written)
        written[rel] = value
        # Category names become directories under public/categories, so very
        # long ones are a Hexo build error (ENAMETOOLONG): the writer must not
        # rely on Hexo for that; here only short hostile categories are used.
        category = value if len(value.encode("utf-8")) < 150 else "long"
        front = [
            "",
            "---",
            f"title: {yaml_scalar(value, 'single')}",
            "categories: ",
            *(f" - {yaml_scalar(c)}" for c in (category, "src", "chan")),
            "headimg: ''",
            f"author: {yaml_scalar(value)}",
            "comments: false",
            f"date: {date}",
            "thumbnail: ''",
            "---",
            "",
            "<div>   ",
            f"<p>item {i}</p>",
            "  </div>",
            "",
        ]
        _write(posts, rel, "\n".join(front))
    assert len(written) == len(HOSTILE)

    result = hexo_generate(site)
    _assert_clean(result)
    assert result.sources == sorted("_posts/" + rel for rel in written)
    assert len({p.file for p in result.posts}) == len(written)  # no page overwrote another
    for page in result.posts:
        assert page.title == written[page.source.removeprefix("_posts/")], page.source
