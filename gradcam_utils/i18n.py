"""The course's language: English (the default) or Japanese, for what a learner reads.

``gc.set_language("ja")`` switches the learner-facing text of the library to Japanese: the titles and colour-bar
label of ``gc.show_heatmaps`` / ``gc.explained_title``, the feedback of the exercise checks, and the explorer's
labels and messages. ``gc.set_language("en")`` switches back; ``gc.language()`` says which is in use. The start value
comes from the environment variable ``GRADCAM_LANG`` (``en`` or ``ja``; any other value warns once and uses ``en``).

What is *not* translated, on purpose:

* error messages (``GradCAMError`` and its subclasses) and warnings stay English: they are written for programmers,
  and an English message can be searched for and matched in a bug report;
* class names of the models (``'star'``, ``'golden retriever'``), layer and method names, and the explorer's labels
  of its sample pictures (``"circle, marker of star"``): they are data that a learner passes back to the library;
* a reason taken from an error inside a translated message (the explorer's "could not use the upload ...: <reason>").

Japanese figures need a font with Japanese glyphs; matplotlib's default (DejaVu Sans) has none and draws empty boxes
with a "Glyph missing" warning. While the language is ``ja``, matplotlib uses IPAexGothic from the package
``matplotlib-fontja`` (pinned in pyproject.toml and environment.yml). Why that package: it is a pip package that
ships the font file itself (IPAexGothic, IPA Font License), so it installs the same way on every laptop, lab and CI
run, conda or pip, without system fonts or root; it is the maintained successor of ``japanize-matplotlib`` (which
imports ``distutils`` and so fails on Python 3.12+), and it registers the font with matplotlib's own ``addfont``.
Debian's Noto CJK fonts would need apt and differ per operating system. Switching back to ``en`` restores the font
settings that were in use before ``ja`` was set.

Learner-facing strings live in a catalogue of ``{"en": ..., "ja": ...}`` pairs under dotted keys
(``"check.no_answer"``), kept in ``messages_checks`` (the exercise checks' feedback) and ``messages_explorer``
(figures and the explorer), which are loaded on first use; :func:`text` formats the entry for the current language,
so a call site reads ``Feedback(False, text("check.no_answer"))``. :func:`register` adds more entries.
``tests/test_i18n.py`` checks that every entry has both languages, that the Japanese one is Japanese, and that both
use the same format fields and the same numbers.
"""

from __future__ import annotations

import importlib
import os
import string
import warnings
from collections.abc import Mapping

from .errors import GradCAMError

__all__ = ["LANGUAGES", "catalogue", "language", "register", "set_language", "text"]

#: The languages the course is written in.
LANGUAGES = ("en", "ja")

#: The font matplotlib uses while the language is "ja" (shipped by matplotlib-fontja).
JAPANESE_FONT = "IPAexGothic"

# saved_font: the matplotlib settings that set_language("ja") changes, saved so that "en" can restore them.
_state: dict = {"language": "en", "saved_font": None}
_catalogue: dict[str, dict[str, str]] = {}

#: The modules whose MESSAGES make up the catalogue, loaded on the first text() or catalogue() call.
MESSAGE_MODULES = ("messages_checks", "messages_explorer")
_loaded: list[bool] = []


def _load() -> None:
    if not _loaded:
        for name in MESSAGE_MODULES:
            register(importlib.import_module(f"{__package__}.{name}").MESSAGES)
        _loaded.append(True)


def language() -> str:
    """The language in use: ``"en"`` (the default) or ``"ja"``."""
    return _state["language"]


def set_language(lang: str) -> None:
    """Use ``lang`` (``"en"`` or ``"ja"``) for the library's learner-facing text and figures from now on.

    ``"ja"`` also makes matplotlib draw text with a Japanese font (IPAexGothic); ``"en"`` restores the font settings
    in use before ``"ja"`` was set.

    Raises:
        GradCAMError: ``lang`` is not one of ``LANGUAGES``.
    """
    if lang not in LANGUAGES:
        raise GradCAMError(
            f"set_language expects one of {', '.join(map(repr, LANGUAGES))}; got {lang!r}. "
            "Use gc.set_language('ja') for Japanese or gc.set_language('en') for English."
        )
    if lang == _state["language"]:
        return
    if lang == "ja":
        _use_japanese_font()
    else:
        _restore_font()
    _state["language"] = lang


def _use_japanese_font() -> None:
    import matplotlib

    _state["saved_font"] = {"font.family": matplotlib.rcParams["font.family"]}
    # Importing the package registers the font with matplotlib (font_manager.addfont) and sets font.family. Imported
    # by name: it ships no type information (mypy would need an override) and only its import's effect is used.
    importlib.import_module("matplotlib_fontja")

    # Set again explicitly: the package sets it only on its first import, and a later "en" undid that.
    matplotlib.rcParams["font.family"] = [JAPANESE_FONT, "DejaVu Sans"]


def _restore_font() -> None:
    import matplotlib

    saved = _state["saved_font"]
    if saved is not None:
        matplotlib.rcParams.update(saved)
        _state["saved_font"] = None


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def register(entries: Mapping[str, Mapping[str, str]]) -> None:
    """Add learner-facing strings to the catalogue: ``{key: {"en": template, "ja": template}}``.

    Templates are ``str.format`` templates; both languages must use the same fields.

    Raises:
        GradCAMError: an entry lacks a language, its languages use different fields, or the key is taken by a
            different entry.
    """
    for key, pair in entries.items():
        if set(pair) != set(LANGUAGES):
            raise GradCAMError(f"Message {key!r} must have exactly the languages {LANGUAGES}; it has {tuple(pair)}.")
        if _fields(pair["en"]) != _fields(pair["ja"]):
            raise GradCAMError(
                f"Message {key!r}: the English and Japanese texts must use the same format fields; got "
                f"{sorted(_fields(pair['en']))} and {sorted(_fields(pair['ja']))}."
            )
        if key in _catalogue and _catalogue[key] != dict(pair):
            raise GradCAMError(f"Message key {key!r} is registered twice with different texts; choose another key.")
        _catalogue[key] = dict(pair)


def text(key: str, /, **fields) -> str:
    """The catalogue entry ``key`` in the current language, formatted with ``fields``.

    Raises:
        GradCAMError: no entry ``key`` (register it first).
    """
    _load()
    try:
        template = _catalogue[key][language()]
    except KeyError:
        raise GradCAMError(f"No message {key!r} in the catalogue; register it with i18n.register first.") from None
    return template.format(**fields) if fields else template


def catalogue() -> dict[str, dict[str, str]]:
    """A copy of every entry: those of ``MESSAGE_MODULES`` and any added with :func:`register`."""
    _load()
    return {key: dict(pair) for key, pair in _catalogue.items()}


def _start_language() -> str:
    value = os.environ.get("GRADCAM_LANG")
    if value is None or value == "":
        return "en"
    if value not in LANGUAGES:
        warnings.warn(
            f"GRADCAM_LANG={value!r} is not one of {', '.join(LANGUAGES)}; using 'en'. "
            "Set GRADCAM_LANG=ja or GRADCAM_LANG=en, or call gc.set_language().",
            UserWarning,
            stacklevel=2,
        )
        return "en"
    return value


set_language(_start_language())
