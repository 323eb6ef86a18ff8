"""The conda route (environment.yml) and the pip route (pyproject.toml) must install the same versions."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^\s*-\s*([A-Za-z0-9_.\-\[\]]+)\s*==\s*([^\s#]+)\s*$")


def pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    pins = {}
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        assert version, f"pyproject.toml: {requirement!r} is not pinned with =="
        pins[name.strip().lower()] = version.strip()
    return pins


def environment_pins():
    pins = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        match = PIN.match(line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_every_pip_pin_is_in_environment_yml_with_the_same_version():
    assert environment_pins() == pyproject_pins()


def test_environment_yml_installs_the_package_itself():
    assert re.search(r"^\s*-\s*-e\s+\.\s*$", (ROOT / "environment.yml").read_text(), re.M)


def test_pin_parser_sees_a_mismatch(tmp_path):
    """The comparison above can fail: a changed version is noticed by the parser."""
    text = (ROOT / "environment.yml").read_text().replace("keras==3.15.1", "keras==3.0.0")
    pins = {m.group(1).lower(): m.group(2) for m in map(PIN.match, text.splitlines()) if m}
    assert pins["keras"] == "3.0.0" != pyproject_pins()["keras"]
