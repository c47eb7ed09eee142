"""`tidings sources import|export|list|check` through the CLI."""
import json
import shutil

from feedserver import rss
from util import cli, write_config

from tidings.config import load


def test_import_docs_then_export_reimports_the_same(tmp_path, fixtures, capsys):
    cfg = tmp_path / "tidings.yml"
    shutil.copy(fixtures / "catalog" / "tidings-commented.yml", cfg)
    before = cfg.read_text(encoding="utf-8")
    n_before = len(load(cfg).sources)
    # exit 3: the fixture's three broken routes are skipped with a warning each, the rest is imported
    assert cli("sources", "import", fixtures / "catalog" / "docs-vuepress-finance.md", "-c", cfg) == 3
    after = cfg.read_text(encoding="utf-8")
    added = len(load(cfg).sources) - n_before
    assert added > 0
    assert [line for line in before.splitlines() if line.lstrip().startswith("#")] == \
        [line for line in after.splitlines() if line.lstrip().startswith("#")][:len(
            [line for line in before.splitlines() if line.lstrip().startswith("#")])]  # comments kept
    # importing again adds nothing
    assert cli("sources", "import", fixtures / "catalog" / "docs-vuepress-finance.md", "-c", cfg) == 3
    assert cfg.read_text(encoding="utf-8") == after
    out = tmp_path / "out.opml"
    assert cli("sources", "export", "-c", cfg, "-o", out) == 0
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "tidings.yml").write_text("sources: []\n", encoding="utf-8")
    assert cli("sources", "import", out, "-c", fresh / "tidings.yml") == 0
    a = [(s.category, s.source, s.channel, s.route, s.url) for s in load(cfg).sources]
    b = [(s.category, s.source, s.channel, s.route, s.url) for s in load(fresh / "tidings.yml").sources]
    assert sorted(a) == sorted(b)


def test_import_filters_by_category_and_route(tmp_path, fixtures):
    cfg = tmp_path / "tidings.yml"
    cfg.write_text("sources: []\n", encoding="utf-8")
    assert cli("sources", "import", fixtures / "catalog" / "api-namespace.json", "--route", "/sina",
               "-c", cfg) == 3  # the fixture has a route without an example
    routes = [s.route for s in load(cfg).sources]
    assert routes and all(r.startswith("/sina/") for r in routes)


def test_import_of_unreadable_location_exits_2(tmp_path, capsys):
    cfg = tmp_path / "tidings.yml"
    cfg.write_text("sources: []\n", encoding="utf-8")
    assert cli("sources", "import", tmp_path / "missing.md", "-c", cfg) == 2
    err = capsys.readouterr().err
    assert err == f"tidings: {tmp_path / 'missing.md'}: No such file or directory\n"  # the location once


def test_check_reports_ok_failing_and_json(tmp_path, store_at, server, capsys):
    good = server.add("/good", rss([{"title": "a", "guid": "1", "pubDate": "Mon, 14 Mar 2022 06:22:47 GMT"}]))
    bad = server.add("/bad", status=500)
    cfg = write_config(tmp_path, [{"category": "c", "source": "good", "url": good},
                                  {"category": "c", "source": "bad", "url": bad}], store=store_at)
    assert cli("run", "-q", "-c", cfg) == 3
    capsys.readouterr()
    assert cli("sources", "check", "--json", "-c", cfg) == 3
    rows = {r["source"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["bad"]["state"] == "failing" and rows["bad"]["last_error"] == "HTTP 500"
    assert rows["bad"]["errors_in_a_row"] == 1
    assert rows["good"]["state"] == "ok" and rows["good"]["items_7d"] == 1
    assert cli("sources", "check", "-c", cfg) == 3
    table = capsys.readouterr().out
    assert "failing" in table and "HTTP 500" in table


def test_source_with_nothing_new_for_stale_days_is_stale(tmp_path, store_at, server):
    import time

    from tidings.sources_cmd import HealthState, health

    url = server.add("/quiet", rss([{"title": "a", "guid": "1"}]))
    cfg_path = write_config(tmp_path, [{"category": "c", "source": "quiet", "url": url}], stale_days=3, store=store_at)
    assert cli("run", "-q", "-c", cfg_path) == 0
    cfg = load(cfg_path)
    assert [r["state"] for r in health(cfg)] == ["ok"]
    assert [r["state"] for r in health(cfg, now=time.time() + 2 * 86400)] == ["ok"]
    assert [r["state"] for r in health(cfg, now=time.time() + 4 * 86400)] == [HealthState.STALE] == ["stale"]


def test_recovered_breakage_is_noted_in_sources_check(tmp_path, store_at, server, capsys):
    """A feed read only after repair is fine (exit 0, state ok) and says what was repaired; a clean
    fetch later clears the note."""
    broken = '<rss version="2.0"><channel><item><title>Q&A</title><guid>1</guid></item></channel></rss>'
    url = server.add("/amp", broken)
    cfg = write_config(tmp_path, [{"category": "c", "source": "amp", "url": url}], store=store_at)
    assert cli("run", "-c", cfg) == 0
    capsys.readouterr()
    assert cli("sources", "check", "-c", cfg, "--json") == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["state"] == "ok" and "repaired malformed XML" in row["last_note"]
    assert cli("sources", "check", "-c", cfg) == 0
    assert "note: repaired malformed XML" in capsys.readouterr().out
    server.add("/amp", broken.replace("Q&A", "Q&amp;A"))
    assert cli("run", "--force", "-c", cfg) == 0
    capsys.readouterr()
    assert cli("sources", "check", "-c", cfg, "--json") == 0
    assert json.loads(capsys.readouterr().out)[0]["last_note"] is None



def _row(source: str, state: str, *, category: str = "c", channel: str = "", last_success: str = "<ts>",
         last_error: str = "null", errors: int = 0, items: int = 0, next_fetch: str = "<ts>") -> str:
    return f"""  {{
    "category": "{category}",
    "source": "{source}",
    "channel": "{channel}",
    "url": "<server>/{source}",
    "state": "{state}",
    "last_success": {last_success},
    "last_error": {last_error},
    "last_note": null,
    "errors_in_a_row": {errors},
    "items_7d": {items},
    "next_fetch": {next_fetch}
  }}"""


CHECK_JSON = "[\n" + ",\n".join([
    _row("bad", "failing", last_success="null", last_error='"HTTP 500"', errors=1),
    _row("good", "ok", items=1),
    _row("quiet", "stale", channel="ch"),
    _row("later", "new", category="d", last_success="null", next_fetch="null"),
]) + "\n]\n"
WHEN = "YYYY-MM-DD hh:mm UTC"
CHECK_TABLE = f"""{"4 sources":^116}
┏━━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┓
┃ source         ┃ state   ┃ last success         ┃ last error / note ┃ in a row ┃ items 7d ┃ next fetch           ┃
┡━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━┩
│ c › bad        │ failing │ never                │ HTTP 500          │ 1        │ 0        │ {WHEN} │
│ c › good       │ ok      │ {WHEN} │                   │ 0        │ 1        │ {WHEN} │
│ c › quiet › ch │ stale   │ {WHEN} │                   │ 0        │ 0        │ {WHEN} │
│ d › later      │ new     │ never                │                   │ 0        │ 0        │ now                  │
└────────────────┴─────────┴──────────────────────┴───────────────────┴──────────┴──────────┴──────────────────────┘
"""


def test_check_output_for_every_state(tmp_path, store_at, server, capsys, monkeypatch):
    """One source in each health state: `sources check --json` and the table print exactly what they printed
    when the states were bare strings (timestamps and the server's address masked), colours included."""
    import re

    good = server.add("/good", rss([{"title": "a", "guid": "1", "pubDate": "Mon, 14 Mar 2022 06:22:47 GMT"}]))
    bad = server.add("/bad", status=500)
    quiet = server.add("/quiet", rss([]))  # fetched, but no item ever seen: stale
    sources = [{"category": "c", "source": "good", "url": good}, {"category": "c", "source": "bad", "url": bad},
               {"category": "c", "source": "quiet", "channel": "ch", "url": quiet}]
    cfg = write_config(tmp_path, sources, store=store_at)
    assert cli("run", "-q", "-c", cfg) == 3
    later = {"category": "d", "source": "later", "url": server.add("/later", rss([]))}
    write_config(tmp_path, [*sources, later], store=store_at)  # configured after the run: new
    capsys.readouterr()

    def masked(text: str) -> str:
        text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", WHEN, text)  # as wide as a date
        return re.sub(r"\b1\d{9}(\.\d+)?\b", "<ts>", text).replace(server.url(""), "<server>")

    assert cli("sources", "check", "--json", "-c", cfg) == 3
    assert masked(capsys.readouterr().out) == CHECK_JSON
    assert cli("sources", "check", "-c", cfg) == 3
    assert masked(capsys.readouterr().out) == CHECK_TABLE
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cli("sources", "check", "-c", cfg) == 3
    coloured = capsys.readouterr().out
    for state, sgr in (("failing", 31), ("ok", 32), ("stale", 33), ("new", 36)):  # red, green, yellow, cyan
        assert f"│ \x1b[{sgr}m{state}\x1b[0m " in coloured
