"""The course's data inside the package (gradcam_utils/data): one constant says where it is, the sample photos are
found by name from any working directory, and a wrong name or an unusable install says what to do.

Expected values come from the checkout's folder listed directly (not through gradcam_utils.course). That the wheel
ships these files, and that an installed package finds them, is checked by scripts/wheel_test.sh (make wheel-test).
"""

import zipfile
from pathlib import Path

import pytest

import gradcam_utils as gc
from gradcam_utils import course, zoo
from gradcam_utils.errors import GradCAMError, ImageNotFoundError

PACKAGE = Path(gc.__file__).resolve().parent
CHECKOUT_DATA = Path(__file__).resolve().parents[1] / "gradcam_utils" / "data"
PHOTOS = ["astronaut.png", "cat.png", "cat_and_espresso.png", "espresso.png", "grace_hopper.jpg"]


def test_the_data_folder_is_inside_the_package():
    assert course.DATA_DIR == PACKAGE / "data" == CHECKOUT_DATA
    assert course.SAMPLES_DIR == course.DATA_DIR / "images" and course.MODELS_DIR == course.DATA_DIR / "models"
    assert zoo.MODELS_DIR == course.MODELS_DIR  # the registry reads the same folder


def test_sample_images_lists_the_photos_and_nothing_else():
    assert course.sample_images() == PHOTOS  # SOURCES.md is in the folder, but not a photo
    assert sorted(p.name for p in (CHECKOUT_DATA / "images").iterdir() if p.suffix != ".md") == PHOTOS
    assert gc.sample_images is course.sample_images and gc.sample_image_path is course.sample_image_path


def test_sample_image_path_finds_the_photo_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = gc.sample_image_path("cat.png")
    assert path.is_absolute() and path.is_file()
    assert path.read_bytes() == (CHECKOUT_DATA / "images" / "cat.png").read_bytes()
    assert gc.load_image(path).shape == (300, 451, 3)  # SOURCES.md: 451 x 300


@pytest.mark.parametrize("name", ["dog.png", "Cat.png", "cat", ""])
def test_an_unknown_sample_name_lists_the_samples(name):
    with pytest.raises(ImageNotFoundError) as raised:
        gc.sample_image_path(name)
    message = str(raised.value)
    assert repr(name) in message and all(photo in message for photo in PHOTOS)
    assert isinstance(raised.value, FileNotFoundError) and isinstance(raised.value, GradCAMError)


def test_a_path_instead_of_a_sample_name_gets_a_hint():
    with pytest.raises(ImageNotFoundError, match="file name, not a path; for your own photo pass its path"):
        gc.sample_image_path("../data/images/cat.png")  # the course's old way of naming the photos


def test_data_inside_a_zip_archive_is_refused_with_a_clear_error(tmp_path, monkeypatch):
    archive = tmp_path / "gradcam_utils.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("gradcam_utils/data/images/cat.png", b"not really a png")
    monkeypatch.setattr(course.resources, "files", lambda package: zipfile.Path(archive, f"{package}/"))
    with pytest.raises(RuntimeError, match="imported from an archive.*Install the package normally"):
        course._data_dir()
