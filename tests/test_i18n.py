"""The language setting (gc.set_language / gc.language), the Japanese font, and the message catalogue."""

import os
import re
import subprocess
import sys
import unicodedata
import warnings
from string import Formatter

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from fontTools.ttLib import TTFont  # noqa: E402
from matplotlib import font_manager  # noqa: E402

import gradcam_utils as gc  # noqa: E402
from gradcam_utils import exercises as ex  # noqa: E402
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
    i18n.register({"test.key": {"en": "{key} is off", "ja": "{key} がずれています"}})  # a field named like the argument
    assert i18n.text("test.key", key="accuracy") == "accuracy がずれています"
    with pytest.raises(gc.GradCAMError, match="No message 'test.nothing'"):
        i18n.text("test.nothing")


# ----- the catalogue ---------------------------------------------------------------------------------------------

#: Entries with no words to translate (punctuation only): their Japanese has no kana or kanji.
PUNCTUATION_ONLY = {"cap.report.separator", "fig.score"}


def _format_fields(template):
    return sorted(
        (name, conversion or "", spec or "") for _, name, spec, conversion in Formatter().parse(template) if name
    )


def test_every_entry_has_both_languages_and_the_japanese_is_japanese():
    entries = i18n.catalogue()
    assert len(entries) > 80  # both message modules loaded
    for key, pair in entries.items():
        assert set(pair) == {"en", "ja"}, key
        assert not KANA_KANJI.search(pair["en"]), f"{key}: Japanese in the English text"
        if key not in PUNCTUATION_ONLY:
            assert KANA_KANJI.search(pair["ja"]), f"{key}: no kana or kanji in {pair['ja']!r}"


def test_both_languages_use_the_same_fields_formatted_the_same_way():
    """Same names, conversions (!r) and specs (.3g): a number reads the same in both languages."""
    for key, pair in i18n.catalogue().items():
        assert _format_fields(pair["en"]) == _format_fields(pair["ja"]), key


def test_both_languages_write_the_same_literal_numbers():
    """A number written in a text (64 positions, axes (1, 2), 24 pixels) appears in the translation too.

    Japanese often writes "one" and "zero" as digits (1 つ, 0 になります), so these words count as digits.
    """
    for key, pair in i18n.catalogue().items():
        en, ja = (re.sub(r"\{[^}]*\}", "", pair[lang]) for lang in ("en", "ja"))  # fields are compared above
        en = re.sub(r"\bzeros?\b", "0", re.sub(r"\bone\b", "1", en))
        ja = ja.replace("ゼロ", "0")
        assert sorted(re.findall(r"\d+(?:\.\d+)?", en)) == sorted(re.findall(r"\d+(?:\.\d+)?", ja)), key


def test_the_field_check_can_fail():
    assert _format_fields("{value:.3g} is not {what}") != _format_fields("{value:.2f} は{what}ではありません")


def test_every_japanese_character_of_the_catalogue_is_in_the_font():
    """No tofu in a figure: every character of the Japanese texts is in IPAexGothic (read with fontTools)."""
    gc.set_language("ja")
    cmap = TTFont(font_manager.findfont(font_manager.FontProperties(family="IPAexGothic"))).getBestCmap()
    missing = {ch for pair in i18n.catalogue().values() for ch in pair["ja"] if ch != "\n" and ord(ch) not in cmap}
    assert missing == set()


# ----- each surface follows the setting --------------------------------------------------------------------------

NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _same_numbers(en, ja):
    """Both texts carry the same numbers (in any order: Japanese word order differs)."""
    assert sorted(NUMBER.findall(en)) == sorted(NUMBER.findall(ja)), (en, ja)


def _both(call):
    english = call()
    gc.set_language("ja")
    japanese = call()
    gc.set_language("en")
    return english, japanese


def test_explained_title_and_colour_bar_follow_the_language():
    en, ja = _both(lambda: gc.explained_title("star", 4.1, predicted="circle"))
    assert en == "map of 'star' (logit 4.10)\npredicted 'circle'"
    assert ja == "'star' のマップ (ロジット 4.10)\n予測: 'circle'"

    def colour_bar_label():
        fig, _ = gc.show_heatmaps(np.zeros((8, 8, 3), np.uint8), np.zeros((1, 4, 4)))
        label = fig.axes[-1].get_ylabel()
        plt.close(fig)
        return label

    assert _both(colour_bar_label) == ("map value (1 = the map's peak)", "マップの値（1 = マップのピーク）")


def test_the_colormap_notes_follow_the_language():
    en, ja = _both(lambda: dict(gc.COLORMAPS))
    # The names are matplotlib's (the notebooks pass them to colorize), in the order notebook 04 shows them.
    assert list(en) == list(ja) == ["viridis", "inferno", "turbo", "jet"]
    assert all(name in matplotlib.colormaps for name in en)
    assert all(not KANA_KANJI.search(en[name]) and KANA_KANJI.search(ja[name]) for name in en)
    with pytest.raises(KeyError):
        gc.COLORMAPS["hot"]  # a real matplotlib colormap, but not one the course compares


def _columns(line):
    """Display columns of a printed line, counted independently of the library: wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def test_the_sanity_table_follows_the_language_and_stays_aligned():
    from gradcam_utils.sanity import SanityResult

    result = SanityResult(
        layers=(("dense",), ("dense", "conv3")),
        gradcam=np.array([[0.5, 0.4], [0.1, 0.2]]),
        guided_gradcam=None,
        guided_backprop=None,
        empty_gradcam=np.zeros((2, 2), bool),
        class_indices=np.array([0, 1]),
        layer_name="conv3_act",
        seeds=(0, 1),
    )
    en, ja = _both(result.summary)
    assert en.splitlines()[1].split() == ["step", "randomised", "down", "to", "gradcam"]
    assert "2 image(s) x 2 seeds" in en and not KANA_KANJI.search(en)
    assert "順位相関" in ja and "2 枚の画像 x 2 シード" in ja and "ランダム化した最後の層" in ja
    for table in (en, ja):
        head, rule, *rows = table.splitlines()[1:]
        # The numbers end where their heading ends, in display columns, whatever the heading's script.
        assert {_columns(line) for line in (head, rule, *rows)} == {_columns(head)}, table
        assert [row.split()[-1] for row in rows] == ["0.450", "0.150"]


def _energy_but_one_for_zeros(heatmap, mask):
    up = gc.upsample_heatmap(heatmap, mask.shape)
    return up[mask].sum() / up.sum() if up.sum() else 1.0


WRONG_ANSWERS = {
    "no answer": lambda: ex.check_blend(None),
    "not a number": lambda: ex.check_blend("lots"),
    "blend": lambda: ex.check_blend(100),
    "bilinear": lambda: ex.check_bilinear_value(0.5),
    "iou": lambda: ex.check_box_iou(0.5),
    "facts still open": lambda: ex.check_gradcam_facts(
        dict.fromkeys(ex.GRADCAM_FACTS, True) | {"needs the model to be retrained": None}
    ),
    "facts wrong": lambda: ex.check_gradcam_facts(dict.fromkeys(ex.GRADCAM_FACTS, True)),
    "gradcam without relu": lambda: ex.check_gradcam_function(
        lambda a, g: np.einsum("bhwk,bk->bhw", a, g.mean(axis=(1, 2)))
    ),
    "function raises": lambda: ex.check_gradcam_function(lambda a, g: 1 / 0),
    "vit unknown layer": lambda: ex.check_empty_vit_layers({"block9"}),
    "energy of zeros": lambda: ex.check_energy_function(_energy_but_one_for_zeros),
    "capstone report keys": lambda: ex.check_capstone(None, None, None, None, None, {"layer": "x"}),
}


@pytest.mark.parametrize("case", WRONG_ANSWERS)
def test_a_check_says_the_same_in_japanese(case):
    en, ja = _both(WRONG_ANSWERS[case])
    assert not en.correct and not ja.correct
    assert not KANA_KANJI.search(en.message) and KANA_KANJI.search(ja.message)
    _same_numbers(en.message, ja.message)


def test_a_right_answer_in_japanese_says_so():
    en, ja = _both(lambda: ex.check_blend(160))
    assert en.correct and ja.correct
    assert en.message == "Right: (1 - alpha) * image + alpha * colour is 160."
    assert ja.message == "正解です。(1 - alpha) * 画像 + alpha * 色は 160 です。"


def test_the_explorer_and_its_widget_follow_the_language():
    from gradcam_utils.explorer import Explorer
    from gradcam_utils.widgets import ExplorerWidget, snapshot

    def surfaces():
        explorer = Explorer("shapes_gap")
        ui = ExplorerWidget(explorer)
        shot = snapshot(explorer)
        models = dict((name, label) for label, name in explorer.model_options())
        methods = dict((name, label) for label, name in explorer.method_options())
        return (
            models["shapes_flat"],
            methods["scorecam"],
            explorer.view.caption,
            ui.layer_picker.description,
            repr(shot),
        )

    en, ja = _both(surfaces)
    assert en[:2] == ("shapes_flat (teaching)", "scorecam (slow: one forward pass per channel)")
    assert ja[:2] == ("shapes_flat（教材用）", "scorecam (低速: チャンネルごとに 1 回の順伝播)")
    assert " · layer conv5_act (16x16) · gradcam" in en[2] and " · レイヤー conv5_act (16x16) · gradcam" in ja[2]
    assert (en[3], ja[3]) == ("layer", "レイヤー")
    assert en[4].startswith("explorer snapshot: ") and ja[4].startswith("エクスプローラーのスナップショット: ")
    _same_numbers(en[2], ja[2])


def test_an_explorer_made_in_english_captions_in_japanese_after_the_switch():
    from gradcam_utils.explorer import Explorer

    explorer = Explorer("shapes_gap")
    english = explorer.view.caption
    gc.set_language("ja")
    japanese = explorer.view.caption
    assert " · layer " in english and " · レイヤー " in japanese
    _same_numbers(english, japanese)
