"""Command-line flags derived from the run's declaration, and a parser with manners.

``add_run_flags`` adds one flag per ``RunConfig`` setting of the groups asked
for, with the setting's help, default, bounds and choices: ``minifw train``
takes every group, ``minifw sweep`` the ones that describe what trains. A flag
not given is left out of the parsed arguments, so ``typed_settings(args)`` is
exactly what the user typed. ``Parser`` refuses abbreviations (``--epoch``
is not ``--epochs``) and answers a mistyped flag with the flags it resembles.
"""

from __future__ import annotations

import argparse
import difflib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

from ..core.errors import ConfigError
from ..run.config import SETTINGS, RunConfig, Setting, flags_of, parse_text

# argparse takes "-1e308" for a flag (its own pattern knows no exponent): a number it is.
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|nan)$", re.IGNORECASE)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that takes no abbreviations, reads "-1e308" as a number, and says
    "did you mean --activation?" for a flag it does not know."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message: str) -> NoReturn:
        """Exit with usage and ``message``; a flag left without its value (often because the
        value began with '-', which argparse takes for a flag) says how to give it."""
        if message.endswith("expected one argument"):
            flag = message.removeprefix("argument ").partition(":")[0].split("/")[0]
            message += f"; a value that begins with '-' is given with '=': {flag}=-x"
        super().error(message)

    def unknown(self, words: Sequence[str]) -> NoReturn:
        """Exit with usage: ``words`` are not this parser's, with the flags they resemble."""
        known = [flag for action in self._actions for flag in action.option_strings]
        hints = []
        for word in words:
            flag = word.partition("=")[0]
            close = difflib.get_close_matches(flag, known, n=2, cutoff=0.6)
            if flag.startswith("-") and close:
                hints.append(f"{flag}: did you mean {' or '.join(close)}?")
        self.error("; ".join([f"unrecognized arguments: {' '.join(words)}", *hints]))


class _Once(argparse.Action):
    """Store a setting's value, refusing a second one: ``--hidden 3 --layers 4`` names one
    setting twice, and silently keeping the last would train what was not meant."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if hasattr(namespace, self.dest):
            flags = "/".join(self.option_strings)
            parser.error(
                f"{flags} is given twice (the second time as {option_string}); give it once"
            )
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)


def _typed(name: str, flag: str) -> Callable[[str], Any]:
    """An argparse type reading setting ``name`` as ``parse_text`` does, errors named by flag."""

    def parse(text: str) -> Any:
        try:
            return parse_text(name, text, where=flag)
        except ConfigError as error:
            said = str(error).removeprefix(f"{flag}: ").removeprefix(f"{flag} ")
            raise argparse.ArgumentTypeError(said) from None

    parse.__name__ = name  # argparse names the type in "invalid NAME value"
    return parse


def finite_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _default(name: str) -> Any:
    return getattr(RunConfig(), name)


def add_run_flags(parser: argparse.ArgumentParser, names: Iterable[str] = SETTINGS) -> None:
    """Add a flag for each of the run's settings ``names``, grouped as the declaration is."""
    chosen = set(names)
    sections: dict[str, argparse._ArgumentGroup] = {}
    for name, declared in SETTINGS.items():
        if name in chosen:
            if declared.group not in sections:
                sections[declared.group] = parser.add_argument_group(declared.group)
            _add_flag(sections[declared.group], name, declared)


def _add_flag(section: argparse._ArgumentGroup, name: str, declared: Setting) -> None:
    flags = flags_of(name, declared)
    default = _default(name)
    shown = declared.kind not in ("flag", "paths") and default not in (None, ())
    text = declared.help + (f" (default: {_show(default)})" if shown else "")
    options: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS, "help": text}
    if declared.kind == "flag":
        if default:  # the flag turns the setting off: say so, not what it turns off
            options["help"] = f"turn off: {declared.help}"
        section.add_argument(*flags, action=_Once, nargs=0, const=not default, **options)
        return
    options["action"] = _Once
    if declared.metavar is not None:
        options["metavar"] = declared.metavar
    if declared.kind == "interval":
        section.add_argument(*flags, nargs=2, type=finite_number, **options)
    elif declared.kind == "paths":
        section.add_argument(*flags, **{**options, "action": "append"})
    elif declared.kind == "choice":
        section.add_argument(*flags, choices=declared.choices, **options)
    else:
        section.add_argument(*flags, type=_typed(name, flags[0]), **options)


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def typed_settings(args: argparse.Namespace, names: Iterable[str] = SETTINGS) -> dict[str, Any]:
    """The settings among ``names`` that the command line gave, and nothing else, as RunConfig
    takes them."""
    given = vars(args)
    return {
        name: tuple(given[name]) if isinstance(given[name], list) else given[name]
        for name in names
        if name in given
    }


def flag_for(name: str) -> str:
    """The main flag of setting ``name``, as messages name it."""
    return flags_of(name, SETTINGS[name])[0]
