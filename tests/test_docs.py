"""Every docs/*.md page runs: its ```python blocks, in order, and they print what it shows.

The blocks of one page share one namespace, as a reader pasting them one after another
would, and run in a temporary working directory, so files they write land there. A
```output block that follows a ```python block is what that block prints; it is compared
as doctest compares, with "..." standing for any text (a time, trailing digits).
"""

import contextlib
import doctest
import io
import re
import textwrap
from pathlib import Path

import matplotlib
import pytest
from helpers import IMAGE

matplotlib.use("Agg")  # whatever a page does, no window opens

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(DOCS.rglob("*.md"))

# A fenced block, possibly indented (inside a list): its indent, language and body.
FENCE = re.compile(r"^( *)```(\w*)[^\n]*\n(.*?)^\1```[ \t]*$", re.DOTALL | re.MULTILINE)


def python_blocks(page):
    """[(first line of the body, code, expected output or None)] for each ```python block."""
    text = page.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        indent, language, body = match.groups()
        body = textwrap.dedent(body) if indent else body
        line = text.count("\n", 0, match.start(3)) + 1
        if language == "python":
            blocks.append([line, body, None])
        elif language == "output":
            if not blocks or blocks[-1][2] is not None:
                pytest.fail(f"{page.name}:{line}: an output block needs a python block before it")
            blocks[-1][2] = body
    return [tuple(block) for block in blocks]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(DOCS)))
def test_page_runs_and_prints_what_it_shows(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page.stem}"}
    checker = doctest.OutputChecker()
    for line, code, want in python_blocks(page):
        out = io.StringIO()
        # Padding the code to its place on the page makes a traceback name the page's line.
        compiled = compile("\n" * (line - 1) + code, str(page), "exec")
        with contextlib.redirect_stdout(out):
            exec(compiled, namespace)
        if want is not None:
            got = out.getvalue()
            example = doctest.Example(source=code, want=want)
            assert checker.check_output(want, got, doctest.ELLIPSIS), (
                f"{page.name}:{line}: the block prints something else than the page shows\n"
                + checker.output_difference(example, got, doctest.ELLIPSIS)
            )


def test_index_has_python_blocks():
    assert len(python_blocks(DOCS / "index.md")) >= 1


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(DOCS)))
def test_images_a_page_shows_exist(page):
    for target in IMAGE.findall(page.read_text(encoding="utf-8")):
        if "://" not in target:
            assert (page.parent / target).is_file(), f"{page.name} shows {target}, which is missing"
