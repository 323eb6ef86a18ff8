"""The language setting (gc.set_language / gc.language), the Japanese font, and the message catalogue."""

import os
import re
import subprocess
import sys
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from fontTools.ttLib import TTFont  # noqa: E402
from matplotlib import font_manager  # noqa: E402

import gradcam_utils as gc  # noqa: E402
from gradcam_utils import i18n  # noqa: E402

JAPANESE = "勾配の特徴マップ（ロジット）"
KANA_KANJI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def english_afterwards():
    """Every test starts and ends in English, whatever it switched to."""
    gc.set_language("en")
    yield
    gc.set_language("en")


def _glyph_warnings_drawing(text):
    fig, ax = plt.subplots()
    ax.set_title(text)
    ax.set_xlabel(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_default_is_english_and_switching_works():
    assert gc.language() == "en"
    gc.set_language("ja")
    assert gc.language() == "ja"
    gc.set_language("en")
    assert gc.language() == "en"


def test_unknown_language_is_a_clear_error():
    with pytest.raises(gc.GradCAMError, match=r"'en', 'ja'.*got 'fr'"):
        gc.set_language("fr")
    assert gc.language() == "en"


def test_english_default_font_lacks_japanese_glyphs():
    """The check below can fail: matplotlib's default font warns about missing glyphs for Japanese text."""
    assert _glyph_warnings_drawing(JAPANESE)


def test_japanese_figure_draws_without_missing_glyphs():
    gc.set_language("ja")
    assert _glyph_warnings_drawing(JAPANESE) == []


def test_the_font_file_used_in_japanese_has_the_glyphs():
    """Independent route: the font file matplotlib picks is read with fontTools, not matplotlib's FreeType."""
    gc.set_language("ja")
    path = font_manager.findfont(font_manager.FontProperties(family=matplotlib.rcParams["font.family"]))
    assert os.path.basename(path) == "ipaexg.ttf"
    cmap = TTFont(path).getBestCmap()
    assert all(ord(ch) in cmap for ch in JAPANESE + "ABCxyz0123.:'")


def test_english_again_restores_the_previous_font_settings():
    before = matplotlib.rcParams["font.family"]
    gc.set_language("ja")
    assert matplotlib.rcParams["font.family"] != before
    gc.set_language("en")
    assert matplotlib.rcParams["font.family"] == before


def _start_language(value):
    env = dict(os.environ, GRADCAM_LANG=value, TF_CPP_MIN_LOG_LEVEL="3")
    code = "import warnings; warnings.simplefilter('always'); from gradcam_utils import i18n; print(i18n.language())"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), done.stderr


def test_gradcam_lang_sets_the_start_value_and_an_unknown_one_warns():
    assert _start_language("ja")[0] == "ja"
    lang, stderr = _start_language("klingon")
    assert lang == "en"
    assert stderr.count("GRADCAM_LANG='klingon'") == 1


def test_register_refuses_a_missing_language_or_different_fields():
    with pytest.raises(gc.GradCAMError, match="exactly the languages"):
        i18n.register({"test.only_en": {"en": "hello"}})
    with pytest.raises(gc.GradCAMError, match="same format fields"):
        i18n.register({"test.fields": {"en": "{n} maps", "ja": "{m} 枚のマップ"}})


def test_text_follows_the_language():
    i18n.register({"test.maps": {"en": "{n} maps", "ja": "{n} 枚のマップ"}})
    assert i18n.text("test.maps", n=3) == "3 maps"
    gc.set_language("ja")
    assert i18n.text("test.maps", n=3) == "3 枚のマップ"
    with pytest.raises(gc.GradCAMError, match="No message 'test.nothing'"):
        i18n.text("test.nothing")
