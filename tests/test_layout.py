"""Size limits of the library and the benchmarks (issue 14): no module over 500 lines, no function or class over 150.

A long module or function is one a newcomer cannot read in one sitting; these tests keep the rooms split once they
are. The limits count lines as ``wc -l`` does for a module, and from a definition's first line (its decorators
excluded, as Python's ``ast`` reports it) to its last for a function or class, methods and nested ones included.
"""

import ast
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gradcam_utils", "benchmarks")
MAX_MODULE_LINES = 500
MAX_DEFINITION_LINES = 150


def _modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def _definition_sizes(source: str) -> list[tuple[str, int, int]]:
    """(name, first line, line count) of every function and class in ``source``, nested ones included."""
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return [
        (node.name, node.lineno, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, kinds) and node.end_lineno is not None
    ]


def _too_long(source: str) -> list[str]:
    """The functions and classes of ``source`` over the limit, as "name (line N): M lines"."""
    return [
        f"{name} (line {first}): {count} lines"
        for name, first, count in _definition_sizes(source)
        if count > MAX_DEFINITION_LINES
    ]


def test_the_walk_finds_the_library_and_the_benchmarks():
    names = {path.relative_to(ROOT).as_posix() for path in _modules()}
    assert {"gradcam_utils/synthetic.py", "gradcam_utils/explorer.py", "benchmarks/report.py"} <= names


def test_the_measure_counts_methods_and_nested_functions_from_first_to_last_line():
    source = textwrap.dedent(
        """
        @decorated
        class Outer:
            def method(self):
                def inner():
                    return 1

                return inner
        """
    )
    sizes = {name: (first, count) for name, first, count in _definition_sizes(source)}
    assert sizes == {"Outer": (3, 6), "method": (4, 5), "inner": (5, 2)}


@pytest.mark.parametrize("lines, flagged", [(MAX_DEFINITION_LINES, False), (MAX_DEFINITION_LINES + 1, True)])
def test_a_function_is_flagged_from_one_line_over_the_limit(lines, flagged):
    body = "\n".join(f"    x{i} = {i}" for i in range(lines - 1))  # the def line makes ``lines``
    assert _too_long(f"def long():\n{body}\n") == ([f"long (line 1): {lines} lines"] if flagged else [])


def test_no_module_is_over_500_lines():
    too_long = {}
    for path in _modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            too_long[path.relative_to(ROOT).as_posix()] = lines
    assert not too_long, (
        f"modules over {MAX_MODULE_LINES} lines: {too_long}; split each along its sections into modules named by "
        "their concept (issue 14), re-exporting the public names from where they are imported today"
    )


@pytest.mark.parametrize("path", _modules(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_no_function_or_class_is_over_150_lines(path):
    too_long = _too_long(path.read_text(encoding="utf-8"))
    assert not too_long, (
        f"{path.relative_to(ROOT).as_posix()} has functions or classes over {MAX_DEFINITION_LINES} lines: "
        f"{too_long}; move a self-contained step (checks, a section) into a function or module of its own"
    )
