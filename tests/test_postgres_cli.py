"""`tidings run`, `build` and `sources check` on a PostgreSQL store (SPEC §11), through the CLI against the local
feed server and a fresh database on the session's throwaway cluster."""
import json

from feedserver import rss
from test_pipeline import items
from util import cli, posts, snapshot, write_config

from tidings.store import open_store


def test_run_check_and_a_second_run_store_nothing(tmp_path, server, pg_url, capsys):
    url = server.add("/feed", rss(items(5)))
    cfg = write_config(tmp_path, [{"category": "新闻", "source": "Example", "channel": "Main", "url": url}],
                       store=pg_url, site_dir="public", site={"search": False})
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    assert not list(tmp_path.glob("*.db*")) and not (tmp_path / "postgresql:").exists()  # a URL is no path
    assert len(posts(tmp_path)) == 5
    assert len(list((tmp_path / "public" / "a").rglob("*.html"))) == 5
    with open_store(pg_url) as store:
        assert store.count_items() == 5
    capsys.readouterr()
    assert cli("sources", "check", "--json", "-c", cfg) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["state"] == "ok" and row["url"] == url

    def pages():  # the site's pages, not its build manifest (saved on every build)
        return {p: t for p, t in snapshot(tmp_path / "public").items() if not p.startswith(".tidings-")}

    blog, site = snapshot(tmp_path / "blog"), pages()
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    assert snapshot(tmp_path / "blog") == blog and pages() == site  # stored nothing new, so wrote nothing
    with open_store(pg_url) as store:
        assert store.count_items() == 5

    server.add("/feed", rss(items(5, changed=2)))
    assert cli("fetch", "--force", "-q", "-c", cfg) == 0
    assert cli("build", "-q", "-c", cfg) == 0
    after = snapshot(tmp_path / "blog")
    assert [p for p in after if after[p] != blog[p]] == ["source/_posts/新闻/Example/Main/Story 2.md"]


def test_second_run_on_the_same_database_is_refused(tmp_path, server, pg_url, capsys, monkeypatch):
    from tidings.pipeline import RunLock
    url = server.add("/feed", rss(items(1)))
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url}])  # store: store.db ...
    monkeypatch.setenv("TIDINGS_STORE", pg_url)  # ... overridden by the environment
    with RunLock(pg_url):
        assert cli("run", "--force", "-q", "-c", cfg) == 2
    assert "another tidings process (tidings run (pid" in capsys.readouterr().err
    assert cli("run", "--force", "-q", "-c", cfg) == 0
    assert not (tmp_path / "store.db").exists()
    with open_store(pg_url) as store:
        assert store.count_items() == 1


def test_unreachable_database_exits_2_without_the_password(tmp_path, server, pg_cluster, capsys):
    url = server.add("/feed", rss(items(1)))
    dead = f"postgresql://someone:s3cret@127.0.0.1:{pg_cluster.port}/no_such_db"
    cfg = write_config(tmp_path, [{"category": "c", "source": "s", "url": url}], store=dead)
    assert cli("run", "-q", "-c", cfg) == 2
    err = capsys.readouterr().err
    assert "cannot connect to the store postgresql://someone:***@127.0.0.1" in err and "s3cret" not in err
