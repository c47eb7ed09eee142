"""The files in examples/ stay valid as the configuration evolves."""
from pathlib import Path

import yaml

from tidings.config import load

EXAMPLES = Path(__file__).parents[1] / "examples"


def test_example_portal_config_loads():
    cfg = load(EXAMPLES / "tidings.yml")
    sources = cfg.feed_sources()
    assert len({s.category for s in sources}) >= 3
    assert sources[0].url == "https://rsshub.app/sina/finance"
    assert cfg.retain_days == 90 and sources[-1].retain_per_source == 200


def test_example_workflow_is_yaml_and_runs_tidings():
    wf = yaml.safe_load((EXAMPLES / "github-actions" / "news.yml").read_text())
    steps = [s.get("run", "") for s in wf["jobs"]["build"]["steps"]]
    assert any("tidings run" in s for s in steps)


def test_example_crontab_lines_are_well_formed():
    lines = [line for line in (EXAMPLES / "crontab").read_text().splitlines() if line and not line.startswith("#")]
    assert lines and all(len(line.split(None, 5)) == 6 and "tidings" in line for line in lines)
