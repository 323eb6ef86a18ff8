"""The offline folder's two scripts (scripts/offline_folder.py builds it, scripts/offline_install.py is its install.py).

No network and no pip here: the real build and install run in scripts/offline_test.sh (`make offline-test`). These
tests check what that run cannot vary: every target can be recognised by the installer, the pip options select the
right wheels, a folder built for other computers is refused with the fix, and a learner's notebooks are never
overwritten.
"""

import collections
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


VersionInfo = collections.namedtuple("VersionInfo", "major minor micro releaselevel serial")
folder = load("offline_folder")
installer = load("offline_install")


@pytest.mark.parametrize("name", list(folder.TARGETS))
def test_the_installer_recognises_each_target_the_builder_can_write(name, monkeypatch):
    """Two routes to a target's name: the builder's table (system, machine, python) and the installer's own mapping
    of what sys.platform and platform.machine() say on such a computer. They must give the same name."""
    target = folder.TARGETS[name]
    major, minor = map(int, target.python.split("."))
    monkeypatch.setattr(installer.sys, "platform", target.system)
    monkeypatch.setattr(installer.platform, "machine", lambda: target.machine)
    monkeypatch.setattr(installer.sys, "version_info", VersionInfo(major, minor, 0, "final", 0))
    assert installer.this_target() == name


def test_pip_options_name_the_python_abi_and_every_platform_tag():
    options = folder.TARGETS["linux-x86_64-py3.12"].pip_options()
    assert options[:6] == ["--python-version", "3.12", "--implementation", "cp", "--abi", "cp312"]
    platforms = options[7::2]
    assert options[6::2] == ["--platform"] * len(platforms)
    # TensorFlow 2.21 and NumPy 2.4 are tagged manylinux_2_27; grpcio and h5py manylinux2014 (seen in a real build):
    # pip does not widen a manylinux tag itself, so each must be listed, and none newer than 2_28 (the lab's glibc).
    assert {"manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"} <= set(platforms)
    assert max(int(p.split("_")[2]) for p in platforms if p.startswith("manylinux_2_")) == 28


def test_target_groups_expand_and_unknown_names_are_refused_with_the_list():
    assert folder.parse_targets("linux") == ["linux-x86_64-py3.11", "linux-x86_64-py3.12"]
    assert folder.parse_targets("linux,linux-x86_64-py3.11,macos-arm64-py3.11") == [
        "linux-x86_64-py3.11",
        "linux-x86_64-py3.12",
        "macos-arm64-py3.11",
    ]
    assert len(folder.parse_targets("all")) == len(folder.TARGETS) == 6
    with pytest.raises(SystemExit, match="unknown target 'linux-arm64'.*expected 'this'.*windows-x86_64-py3.12"):
        folder.parse_targets("linux-arm64")


def make_folder(tmp_path, targets):
    """A minimal offline folder: install.py, a manifest for `targets`, one notebook, no wheels."""
    built = tmp_path / "offline"
    (built / "notebooks").mkdir(parents=True)
    (built / "wheels").mkdir()
    shutil.copy2(ROOT / "scripts" / "offline_install.py", built / "install.py")
    (built / "notebooks" / "start_here.ipynb").write_text("from the folder")
    manifest = {"project": "gradcam-utils", "version": "0.1.0", "targets": {t: {} for t in targets}, "weights": None}
    (built / "manifest.json").write_text(json.dumps(manifest))
    return built


def test_a_folder_built_for_other_computers_is_refused_with_the_fix(tmp_path):
    other = "windows-x86_64-py3.12" if sys.platform != "win32" else "linux-x86_64-py3.12"
    built = make_folder(tmp_path, [other])
    result = subprocess.run(
        [sys.executable, str(built / "install.py"), "--dir", str(tmp_path / "course")], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert f"no wheels for this computer ({installer.this_target()})" in result.stderr
    assert f"built for {other}" in result.stderr and f"--targets {installer.this_target()}" in result.stderr
    assert not (tmp_path / "course" / ".venv").exists()


def test_a_learners_notebooks_are_kept_and_missing_ones_copied(tmp_path, monkeypatch):
    built = make_folder(tmp_path, [])
    (built / "notebooks" / "ja").mkdir()
    (built / "notebooks" / "ja" / "01.ipynb").write_text("new")
    course = tmp_path / "course"
    (course / "notebooks").mkdir(parents=True)
    (course / "notebooks" / "start_here.ipynb").write_text("the learner's work")
    monkeypatch.setattr(installer, "FOLDER", built)
    installer.copy_notebooks(course)
    assert (course / "notebooks" / "start_here.ipynb").read_text() == "the learner's work"
    assert (course / "notebooks" / "ja" / "01.ipynb").read_text() == "new"


def test_pip_runs_with_no_configuration_and_no_pip_variables(monkeypatch):
    monkeypatch.setenv("PIP_FIND_LINKS", "/somewhere/else")
    monkeypatch.setenv("pip_index_url", "https://example.invalid/simple")
    env = installer.clean_env()
    assert env["PIP_CONFIG_FILE"] == installer.os.devnull
    assert [k for k in env if k.upper().startswith("PIP_")] == ["PIP_CONFIG_FILE"]


def test_the_weights_are_only_taken_when_their_md5_matches(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADCAM_XCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert folder.find_weights(None) is None  # nothing in the cache: no weights, and nothing is downloaded
    wrong = tmp_path / "keras" / "models" / folder.WEIGHTS_FILE
    wrong.parent.mkdir(parents=True)
    wrong.write_bytes(b"not the weights")
    assert folder.find_weights(None) is None
    with pytest.raises(SystemExit, match="is not the Xception ImageNet weights file"):
        folder.find_weights(str(wrong))
    # The MD5 is the one the library checks (gradcam_utils/xception.py), read from its source, not imported.
    source = (ROOT / "gradcam_utils" / "xception.py").read_text()
    assert f'WEIGHTS_MD5 = "{folder.WEIGHTS_MD5}"' in source and f'WEIGHTS_FILE = "{folder.WEIGHTS_FILE}"' in source


@pytest.mark.parametrize("version", [(3, 10), (3, 13)])
def test_a_python_the_folder_was_not_built_for_is_refused_before_anything_is_written(version, tmp_path, monkeypatch):
    monkeypatch.setattr(installer.sys, "version_info", VersionInfo(*version, 0, "final", 0))
    monkeypatch.setattr(installer.platform, "python_version", lambda: f"{version[0]}.{version[1]}.0")
    with pytest.raises(SystemExit, match=r"this is Python 3\.1[03]\.0; this folder needs Python 3\.11 or 3\.12"):
        installer.main(["--dir", str(tmp_path / "course")])
    assert not (tmp_path / "course").exists()


def test_a_folder_named_like_the_venv_that_is_no_venv_is_left_alone(tmp_path, monkeypatch):
    """Re-installing from another build replaces the old venv: only when it really is one (it has pyvenv.cfg)."""
    course = tmp_path / "course"
    (course / ".venv").mkdir(parents=True)
    (course / ".venv" / "my-notes.txt").write_text("not a venv")
    manifest = {"project": "gradcam-utils", "version": "0.1.0", "targets": {}, "weights": None}
    with pytest.raises(SystemExit, match=r"\.venv exists and is not a virtual environment"):
        installer.install(manifest, course)
    assert (course / ".venv" / "my-notes.txt").read_text() == "not a venv"
