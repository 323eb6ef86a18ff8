"""The pre-lab check (gradcam_lab_check.py, `make check`): each check passes here, fails on a broken input with a fix,
and one broken check cannot hide the others. The broken inputs are made by the tests (an old Python, a wrong pin, a
listing without the widget extension, little memory, a child process that dies); the passing cases are this
machine, whose install `make test` has just made from the pins."""

import importlib.util
import re
import signal
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("gradcam_lab_check", ROOT / "gradcam_lab_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


lab = _module()


def test_python_version():
    assert lab.check_python((3, 11, 7)).ok and lab.check_python((3, 13, 0)).ok
    old = lab.check_python((3, 10, 12))
    assert not old.ok and "3.10.12" in old.found and "3.11" in old.fix


def test_the_pins_are_pyprojects_and_installed_here():
    # Independent route: the pins read from pyproject.toml itself, not from the installed metadata the check reads.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    expected = dict(requirement.split("==") for requirement in project["dependencies"])
    assert lab.pinned_requirements() == expected
    assert lab.check_install().ok


def test_a_wrong_or_missing_package_is_named():
    installed = {"numpy": "2.4.6", "keras": "3.0.0"}

    def version(name):
        if name not in installed:
            raise lab.importlib.metadata.PackageNotFoundError(name)
        return installed[name]

    result = lab.check_install({"numpy": "2.4.6", "keras": "3.15.1", "jupyterlab": "4.6.6"}, version)
    assert not result.ok
    assert result.found == "keras 3.0.0 (pinned 3.15.1); jupyterlab missing (pinned 4.6.6)"
    assert "make install" in result.fix


def test_the_widget_extension_is_read_from_the_listing():
    listing = (
        "JupyterLab v4.6.6\n/venv/share/jupyter/labextensions\n"
        "        @jupyter-widgets/jupyterlab-manager v5.0.16 \x1b[32menabled\x1b[0m \x1b[32mOK\x1b[0m (python, x)\n"
    )
    assert lab.widget_extension_found(listing)
    assert not lab.widget_extension_found(listing.replace("enabled", "disabled"))
    assert not lab.widget_extension_found("JupyterLab v4.6.6\n        jupyterlab_pygments v0.3.0 enabled OK\n")
    missing = lab.check_widgets(lambda: "JupyterLab v4.6.6\n")
    assert not missing.ok and "ipywidgets" in missing.fix
    assert lab.check_widgets().ok  # this machine's JupyterLab, asked for real


def test_memory():
    assert lab.check_memory(available=3.0, needed=2.0).ok
    short = lab.check_memory(available=1.25, needed=2.0)
    assert not short.ok and "1.2 GiB available" in short.found and "close other programs" in short.fix
    assert lab.available_memory_gib() > 0


def test_the_probed_checks_pass_in_a_child_python():
    results = lab.probed_checks()
    assert [r.name for r in results] == ["Grad-CAM", "Japanese font"]
    assert all(r.ok for r in results), results
    assert "'circle' predicted" in results[0].found


def test_a_child_that_dies_fails_each_check_it_could_not_report():
    # A child that reports the first check, then dies of SIGILL, as TensorFlow does on a CPU it cannot run on.
    first = lab.Check("Grad-CAM", True, "fine")
    child = (
        "import json, os, signal\n"
        f"print({lab._PROBE_MARK!r} + json.dumps({first.__dict__!r}), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGILL)\n"
    )
    results = lab.probed_checks([sys.executable, "-c", child])
    assert results[0] == first
    assert not results[1].ok and results[1].name == "Japanese font"
    assert f"killed by signal {int(signal.SIGILL)}" in results[1].found and "Illegal instruction" in results[1].fix


def test_a_check_that_raises_fails_alone():
    def check_broken():
        raise RuntimeError("no luck")

    results = lab.run_checks([check_broken, lambda: lab.Check("fine", True, "ok")])
    assert [r.ok for r in results] == [False, True]
    assert results[0].name == "broken" and results[0].found == "RuntimeError: no luck"


def test_the_report_says_what_failed_and_what_to_do():
    results = [lab.Check("Python", True, "Python 3.11.7"), lab.Check("memory", False, "1.0 GiB", "close programs")]
    assert lab.report(results).splitlines() == [
        "[ ok ] Python: Python 3.11.7",
        "[FAIL] memory: 1.0 GiB",
        "       fix: close programs",
        "1 of 2 checks failed: fix them (see 'fix:' above) and run the check again.",
    ]


def test_main_exits_1_when_a_check_fails(capsys):
    # Needing more memory than any machine has makes exactly one check fail; the others run for real.
    assert lab.main(["--memory-gib", "1e9"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^\[FAIL\] memory: ", out, re.M) and out.count("[ ok ]") == 5
    assert out.rstrip().endswith("1 of 6 checks failed: fix them (see 'fix:' above) and run the check again.")


def test_make_check_runs_it():
    recipe = re.search(r"^check:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert recipe and "gradcam_lab_check.py" in recipe.group(1)


@pytest.mark.parametrize("option", ["--memory-gib", "--memory-gib=lots"])
def test_a_bad_option_is_a_usage_error(option, capsys):
    with pytest.raises(SystemExit) as exit_info:
        lab.main([option])
    assert exit_info.value.code == 2 and "--memory-gib" in capsys.readouterr().err
