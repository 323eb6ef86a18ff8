"""One error hierarchy in one module (issue 14): every error class lives in gradcam_utils.errors, derives from
GradCAMError, matches the tree documented there, and the unknown-method error is the same everywhere."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import replace

import pytest

import gradcam_utils as gc
from gradcam_utils import cli, engine, errors, methods, torch_legacy
from gradcam_utils.cli import _common
from gradcam_utils.explorer import Explorer
from gradcam_utils.synthetic import make_shapes


def _own_classes(module) -> dict[str, type]:
    return {
        name: cls
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and issubclass(cls, BaseException) and cls.__module__ == module.__name__
    }


def _package_modules():
    yield gc
    for info in pkgutil.walk_packages(gc.__path__, prefix="gradcam_utils."):
        if info.name.endswith(".__main__"):  # runs the command when imported
            continue
        try:
            yield importlib.import_module(info.name)
        except ModuleNotFoundError as err:  # an optional third-party dependency that is not installed
            if (err.name or "").startswith("gradcam_utils"):
                raise


ERROR_CLASSES = {name: cls for name, cls in _own_classes(errors).items() if not issubclass(cls, Warning)}
WARNING_CLASSES = {name: cls for name, cls in _own_classes(errors).items() if issubclass(cls, Warning)}


def test_every_exception_class_of_the_package_is_defined_in_errors_py():
    elsewhere = {
        f"{module.__name__}.{name}"
        for module in _package_modules()
        for name in _own_classes(module)
        if module is not errors
    }
    assert not elsewhere, f"define these in gradcam_utils/errors.py (and re-export them): {sorted(elsewhere)}"


@pytest.mark.parametrize("name", sorted(ERROR_CLASSES))
def test_every_error_is_a_gradcam_error_and_a_value_error(name):
    assert issubclass(ERROR_CLASSES[name], errors.GradCAMError)
    assert issubclass(ERROR_CLASSES[name], ValueError)


def test_warnings_are_user_warnings():
    assert WARNING_CLASSES and all(issubclass(cls, UserWarning) for cls in WARNING_CLASSES.values())


def _documented_tree() -> dict[str, tuple[str, ...]]:
    """class name -> the names of its direct bases, as the tree in errors.py's docstring draws them."""
    doc = errors.__doc__
    block = doc[doc.index("::\n") + 3 :]
    bases: dict[str, tuple[str, ...]] = {}
    parents: list[tuple[int, str]] = []  # (indent, name) of the open ancestors
    for line in block.splitlines():
        if not line.strip():
            continue
        if not line.startswith("    "):
            break  # the prose after the tree
        match = re.fullmatch(r"( +)(\w+)(?:\(([\w, ]+)\))?", line)
        assert match, f"cannot read the tree line {line!r}"
        indent, name, extra = len(match[1]), match[2], match[3]
        while parents and parents[-1][0] >= indent:
            parents.pop()
        extras = tuple(part.strip() for part in extra.split(",")) if extra else ()
        bases[name] = ((parents[-1][1],) if parents else ()) + extras
        parents.append((indent, name))
    return bases


def test_the_documented_tree_matches_the_classes():
    documented = _documented_tree()
    assert set(documented) == set(_own_classes(errors)), "errors.py's docstring tree lists other classes"
    for name, cls in _own_classes(errors).items():
        assert tuple(base.__name__ for base in cls.__bases__) == documented[name], name


def test_old_homes_and_old_types_still_work():
    assert torch_legacy.TorchLegacyFormatError is errors.TorchLegacyFormatError
    assert torch_legacy.DisallowedGlobalError is errors.DisallowedGlobalError
    assert cli.UsageError is _common.UsageError is errors.UsageError
    assert gc.WeightsUnavailableError is errors.WeightsUnavailableError
    # callers may have caught these as the standard types they used to be
    assert issubclass(errors.WeightsUnavailableError, FileNotFoundError)
    assert issubclass(errors.ImageNotFoundError, FileNotFoundError)
    assert issubclass(errors.TorchLegacyFormatError, ValueError)
    assert issubclass(errors.UsageError, Exception)
    with pytest.raises(FileNotFoundError, match="no file"):
        raise errors.WeightsUnavailableError("no file")
    assert str(errors.WeightsUnavailableError("a message")) == "a message"


def test_check_method_names_the_known_methods():
    errors.check_method("gradcam", ["gradcam", "layercam"])
    with pytest.raises(errors.UnknownMethodError, match=r"^Unknown method 'nope'; available: a, b\.$"):
        errors.check_method("nope", ["b", "a"])


@pytest.fixture(scope="module")
def shapes():
    bundle = gc.load_model("shapes_gap")
    return bundle, bundle.preprocess(make_shapes(2, seed=3).images)


def test_every_unknown_method_site_raises_the_same_error(shapes):
    bundle, images = shapes
    expected = re.escape(f"Unknown method 'nope'; available: {', '.join(sorted(methods.METHODS))}.")
    raised = []
    for call in (
        lambda: engine.explain(bundle.model, images, method="nope"),
        lambda: engine.compute_heatmaps(bundle.model, images, method="nope"),
        lambda: engine.heatmaps_from(engine.gradient_inputs(bundle.model, images), "nope"),
        lambda: methods.passes_per_image("nope", 8),
    ):
        with pytest.raises(errors.UnknownMethodError, match=expected) as info:
            call()
        raised.append(type(info.value))
    explorer = Explorer(bundle)
    with pytest.raises(errors.UnknownMethodError, match=expected):
        explorer._map(replace(explorer.state, method="nope"))
    assert explorer.select_method("nope") is False
    assert re.fullmatch(expected, explorer.error)
    assert set(raised) == {errors.UnknownMethodError}
