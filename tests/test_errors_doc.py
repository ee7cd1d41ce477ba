"""docs/errors.md documents every exception minifw raises, so that a new one cannot go
undocumented: each class in minifw.core.errors, and the class of every ``raise`` in minifw's
sources, found by parsing them. (tests/test_docs.py runs the page's examples.)"""

import ast
import functools
import re
from pathlib import Path

import pytest

import minifw
import minifw.core.errors

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "errors.md"
PACKAGE = ROOT / "minifw"
SOURCES = sorted(PACKAGE.rglob("*.py"))

ERROR_CLASSES = sorted(
    (
        value
        for value in vars(minifw.core.errors).values()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == minifw.core.errors.__name__
    ),
    key=lambda cls: cls.__name__,
)


# A class name: capitalised, with a capital inside (ConfigError, OSError), so that a bolded
# word ("**Files**") or a heading's first word ("Command-line usage") does not count.
CLASS_NAME = r"`?((?:[A-Za-z_]\w*\.)*[A-Z]\w*[A-Z]\w*)`?"


def documented():
    """The class names docs/errors.md documents: as a heading, or bolded."""
    text = PAGE.read_text(encoding="utf-8")
    headings = re.findall(rf"^#{{2,4}} +{CLASS_NAME}\s*$", text, flags=re.MULTILINE)
    bold = re.findall(rf"\*\*{CLASS_NAME}\*\*", text)
    return {name.rsplit(".", 1)[-1] for name in [*headings, *bold]}


def annotation_name(annotation):
    """The class a return annotation names (``ModelFileError``, ``errors.X``, ``"X"``)."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        annotation = ast.parse(annotation.value, mode="eval").body
    if isinstance(annotation, ast.Name):
        return annotation.id
    if isinstance(annotation, ast.Attribute):
        return annotation.attr
    return None


def functions_returning_exceptions(tree):
    """{function or method name: the class its return annotation names}, for one module."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            found.setdefault(node.name, set()).add(annotation_name(node.returns))
    return found


def raised_class(exc, helpers):
    """The class name a ``raise`` statement's expression raises, or None if it cannot tell.

    ``raise Name(...)`` and ``raise module.Name(...)`` name it; ``raise self.error(...)``
    (a helper that builds the exception) names it through the helper's return annotation.
    """
    target = exc.func if isinstance(exc, ast.Call) else exc
    name = (
        target.id
        if isinstance(target, ast.Name)
        else target.attr
        if isinstance(target, ast.Attribute)
        else None
    )
    if name is None:
        return None
    if name[0].isupper():
        return name
    if isinstance(exc, ast.Call):  # a helper function or method that returns the exception
        classes = helpers.get(name, set())
        if len(classes) == 1 and None not in classes:
            return next(iter(classes))
    return None


def classes_given(tree):
    """{line: class} for each ``raise error(...)`` whose ``error`` is a parameter annotated
    ``type[SomeError]``: the caller chooses the class, one of SomeError's kind."""
    found = {}
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        arguments = function.args
        given = {
            argument.arg: annotation_name(argument.annotation.slice)
            for argument in [*arguments.args, *arguments.kwonlyargs]
            if isinstance(argument.annotation, ast.Subscript)
            and annotation_name(argument.annotation.value) == "type"
        }
        for node in ast.walk(function):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                name = getattr(node.exc.func, "id", None)
                if name in given:
                    found[node.lineno] = given[name]
    return found


def raise_sites():
    """[(file:line, the class raised or None)] for every ``raise`` in minifw, re-raises aside."""
    sites = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        helpers, given = functions_returning_exceptions(tree), classes_given(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None:
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                sites.append((where, given.get(node.lineno) or raised_class(node.exc, helpers)))
    return sites


SITES = raise_sites()


def test_the_reader_of_raise_statements_reads_each_form_minifw_uses():
    source = """
class Reader:
    def error(self, problem) -> ModelFileError:
        return ModelFileError(problem)

    def unannotated(self):
        return ConfigError("?")

def load(reader, e, *, error: type[LedgerError] = LedgerError):
    raise ConfigError("bad") from None
    raise argparse.ArgumentTypeError("bad")
    raise reader.error("damaged")
    raise self.unannotated()
    raise StopIteration
    raise e
    raise error("the caller's class")
"""
    tree = ast.parse(source)
    helpers, given = functions_returning_exceptions(tree), classes_given(tree)
    raises = [node for node in ast.walk(tree) if isinstance(node, ast.Raise)]
    assert [given.get(node.lineno) or raised_class(node.exc, helpers) for node in raises] == [
        "ConfigError",
        "ArgumentTypeError",
        "ModelFileError",
        None,
        "StopIteration",
        None,
        "LedgerError",
    ]


def test_the_page_exists_and_the_readme_links_it():
    assert PAGE.is_file()
    assert "(docs/errors.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_minifw_exports_every_class_in_minifw_errors():
    # A class defined there but not exported would be documented for no one to catch.
    names = {cls.__name__ for cls in ERROR_CLASSES}
    assert names == set(minifw.EXPORTS["core.errors"])
    assert all(getattr(minifw, name) is getattr(minifw.core.errors, name) for name in names)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_class_in_minifw_errors_is_documented(cls):
    assert cls.__name__ in documented(), (
        f"docs/errors.md does not document {cls.__name__}: give it a '## {cls.__name__}' "
        "section saying when it is raised, an example and what to do"
    )


def test_every_raise_in_minifw_names_a_class_this_test_can_read():
    unreadable = [where for where, name in SITES if name is None]
    assert not unreadable, (
        "cannot tell which exception these raise; raise a class by name, or give the helper "
        f"that builds it a return annotation (-> ConfigError): {unreadable}"
    )


def test_every_class_minifw_raises_is_documented():
    raised = {}
    for where, name in SITES:
        if name is not None:
            raised.setdefault(name, []).append(where)
    assert set(raised) >= {cls.__name__ for cls in ERROR_CLASSES if cls is not minifw.MinifwError}
    missing = {name: places for name, places in raised.items() if name not in documented()}
    assert not missing, f"docs/errors.md does not document these, raised at: {missing}"


def test_every_exception_the_command_line_maps_to_an_exit_status_is_documented():
    # cli.main turns these into "minifw: error: ..." and an exit status; the page says which.
    tree = ast.parse((PACKAGE / "cli" / "__init__.py").read_text(encoding="utf-8"))
    main = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "main")
    caught = {
        raised_class(handler.type, {})
        for node in ast.walk(main)
        if isinstance(node, ast.Try)
        for handler in node.handlers
        if handler.type is not None
    }
    assert caught >= {"MinifwError", "OSError"}
    assert caught <= documented()
    text = PAGE.read_text(encoding="utf-8")
    for name, status in [("ConfigError", 2), ("OSError", 1), ("Command-line usage", 2)]:
        assert re.search(rf"\[{name}\]\(#[\w-]+\) \|[^|]+\| exit {status} \|", text), name


@pytest.mark.parametrize("write", ["minifw.save", "RunConfig.save"])
def test_a_file_that_cannot_be_written_is_named_in_the_error(write):
    from minifw import RunConfig

    path = Path("no", "such", "dir", "model.npz" if write == "minifw.save" else "run.toml")
    save = {
        "minifw.save": functools.partial(minifw.save, minifw.presets.blog().network),
        "RunConfig.save": RunConfig().save,
    }[write]
    with pytest.raises(OSError) as info:
        save(path)
    assert str(path) in str(info.value), str(info.value)
