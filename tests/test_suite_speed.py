"""What keeps the test suite quick, and CI thorough: the README's command runs the tests on
every core, the files that share fixtures stay whole on one worker, and the fuzzing budget
is a quarter unless HYPOTHESIS_PROFILE=ci asks for all of it (as CI does)."""

import re
import tomllib
from pathlib import Path

import conftest
import helpers

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_runs_the_tests_on_every_core_and_says_how_long_they_take():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start")[1].split("```bash\n")[1].split("```")[0]
    assert quick_start.splitlines()[1].endswith(".venv/bin/python -m pytest -q -n auto")
    assert "about a minute and a half" in readme and "HYPOTHESIS_PROFILE=ci" in readme
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(r.startswith("pytest-xdist") for r in extra["optional-dependencies"]["test"])


def test_ci_runs_the_full_fuzzing_budget():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^export HYPOTHESIS_PROFILE=ci$", ci, re.MULTILINE)
    assert ci.index("export HYPOTHESIS_PROFILE=ci") < ci.index("for command in")


def test_every_file_with_shared_fixtures_stays_whole_on_one_worker():
    shared = {
        path.name
        for path in (ROOT / "tests").glob("test_*.py")
        if re.search(r"scope=\"(module|session)\"", path.read_text(encoding="utf-8"))
    }
    assert shared <= conftest.TOGETHER, sorted(shared - conftest.TOGETHER)
    assert all((ROOT / "tests" / name).is_file() for name in conftest.TOGETHER)


def test_the_budget_is_a_quarter_unless_ci_asks_for_all_of_it(monkeypatch):
    monkeypatch.setattr(helpers, "FULL_BUDGET", False)
    assert [helpers.examples(n) for n in (10, 40, 100, 400, 1000)] == [10, 25, 25, 100, 250]
    monkeypatch.setattr(helpers, "FULL_BUDGET", True)
    assert [helpers.examples(n) for n in (10, 40, 100, 400, 1000)] == [10, 40, 100, 400, 1000]
