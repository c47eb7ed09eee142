"""SPEC §4: front_matter: seed + clean: false turns the seed feed into the seed post, byte for byte, from a SQLite or
a PostgreSQL store (store_at)."""
from pathlib import Path

from util import cli, write_config

SEED_PATH = "金融/新浪财经/新浪财经－国內/吉林省委书记提出7个绝对到位后，长春市委书记凌晨2点开会.md"


def test_seed_post_is_byte_identical(tmp_path, store_at, server, fixtures):
    url = server.add("/sina/finance", (fixtures / "seed" / "feed.xml").read_bytes())
    cfg = write_config(tmp_path, [{"category": "金融", "source": "新浪财经", "channel": "新浪财经－国內",
                                   "route": "/sina/finance"}],
                       rsshub=url.removesuffix("/sina/finance"), hexo={"clean": False}, store=store_at)
    assert cli("run", "-q", "-c", cfg) == 0
    written = tmp_path / "blog" / "source" / "_posts" / SEED_PATH
    assert written.is_file(), sorted((tmp_path / "blog").rglob("*"))
    assert written.read_bytes() == (fixtures / "seed" / "expected-post.md").read_bytes()


def test_shared_seed_matches_the_copy(fixtures):
    """The fixture copy must stay the contract's file (../shared/conformance/seed)."""
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "seed"
    if not shared.is_dir():
        import pytest
        pytest.skip(f"{shared} is not beside this checkout")
    for name in ("feed.xml", "expected-post.md"):
        assert (shared / name).read_bytes() == (fixtures / "seed" / name).read_bytes()
