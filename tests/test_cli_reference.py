"""docs/reference/cli.md is written from the parser by `python -m minifw.cli.reference`, and
this fails when the committed page and the parser disagree."""

import argparse
from pathlib import Path

from minifw.cli import build_parser
from minifw.cli.reference import main, reference_text

PAGE = Path(__file__).resolve().parent.parent / "docs" / "reference" / "cli.md"


def test_the_committed_page_is_what_the_parser_gives():
    assert PAGE.read_text(encoding="utf-8") == reference_text(), (
        "docs/reference/cli.md is out of date: run python -m minifw.cli.reference"
    )


def subcommand(parser, name):
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def test_every_command_and_flag_is_on_the_page_with_its_help():
    parser = build_parser()
    page = reference_text(parser)
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in action.choices.items():
        assert f"\n## minifw {name}\n" in page
        for flag in command._actions:
            for spelling in flag.option_strings:
                if spelling not in ("-h", "--help"):
                    assert f"`{spelling}" in page, (name, spelling)
    train = subcommand(parser, "train")
    lr = next(a for a in train._actions if "--lr" in a.option_strings)
    assert f"| `--lr LR` | {' '.join(lr.help.split())} |" in page
    assert "| `--layers N[,N...]` (also `--hidden`) |" in page
    assert "| `--domain LOW HIGH` |" in page and "Exactly one of `--x`, `--input`." in page


def test_a_changed_parser_makes_the_check_fail_until_the_page_is_written_again(
    tmp_path, monkeypatch, capsys
):
    page = tmp_path / "cli.md"
    page.write_text(PAGE.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["--check", str(page)]) == 0

    def with_a_new_flag():
        parser = build_parser()
        subcommand(parser, "train").add_argument("--colour", help="paint the graphs")
        return parser

    monkeypatch.setattr("minifw.cli.reference.build_parser", with_a_new_flag)
    assert main(["--check", str(page)]) == 1
    assert "out of date with minifw's parser: run python -m minifw.cli.reference" in (
        capsys.readouterr().err
    )
    assert main([str(page)]) == 0
    assert "| `--colour COLOUR` | paint the graphs |" in page.read_text(encoding="utf-8")
    assert main(["--check", str(page)]) == 0
