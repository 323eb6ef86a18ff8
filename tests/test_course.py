"""Notebook 03's model choice: the committed outputs are what a learner without the Xception weights sees, and
fixing the choice for the test command (GRADCAM_COURSE_MODEL) prints exactly the same sentence, naming no setting."""

import pytest

from gradcam_utils import course, xception
from gradcam_utils.errors import GradCAMError


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    monkeypatch.delenv(course.ENV_VAR, raising=False)
    monkeypatch.delenv(xception.ENV_VAR, raising=False)


def test_without_the_weights_the_embedded_model_is_used(monkeypatch):
    monkeypatch.setattr(xception, "weights_available", lambda cache_dir=None: False)
    name, why = course.imagenet_model_choice()
    assert name == "efficientnet_lite0" and "Xception" in why


def test_a_fixed_choice_prints_what_a_learner_without_weights_sees(monkeypatch):
    monkeypatch.setattr(xception, "weights_available", lambda cache_dir=None: False)
    learner = course.imagenet_model_choice()
    monkeypatch.setattr(xception, "weights_available", lambda cache_dir=None: True)  # a machine that has them
    assert course.imagenet_model_choice()[0] == "xception"
    monkeypatch.setenv(course.ENV_VAR, "efficientnet_lite0")
    fixed = course.imagenet_model_choice()
    assert fixed == learner
    assert course.ENV_VAR not in fixed[1] and "environment" not in fixed[1]


def test_an_unknown_fixed_choice_is_refused(monkeypatch):
    monkeypatch.setenv(course.ENV_VAR, "resnet")
    with pytest.raises(GradCAMError, match="efficientnet_lite0"):
        course.imagenet_model_choice()
