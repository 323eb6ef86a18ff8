"""Figure titles, printed tables and the explorer's labels and messages in English and Japanese.

Used by ``figures``, ``overlay`` (the colormap notes), ``sanity`` (its table), ``explorer``, ``explorer_models``
and ``widgets``; loaded by ``gradcam_utils.i18n`` on first use (see ``i18n.text``). The English texts are the ones
shown before the Japanese edition, unchanged. Class names, layer names, method names and the sample pictures'
labels are data (a learner passes them to the library), so they are never translated.
"""

MESSAGES = {
    # ----- figures.py
    "fig.map_of": {"en": "{method}map of '{class_name}'", "ja": "{method}'{class_name}' のマップ"},
    "fig.logit": {"en": "logit", "ja": "ロジット"},
    "fig.score": {"en": " ({score_name} {score:.2f})", "ja": " ({score_name} {score:.2f})"},
    "fig.predicted": {"en": "\npredicted '{predicted}'", "ja": "\n予測: '{predicted}'"},
    "fig.colorbar": {"en": "map value (1 = the map's peak)", "ja": "マップの値（1 = マップのピーク）"},
    # ----- overlay.py: the notes on the colormaps the course compares (gc.COLORMAPS), printed by notebook 04
    "colormap.viridis": {
        "en": "perceptually uniform (lightness rises evenly), colour-blind safe, prints well in greyscale",
        "ja": "知覚的に均一（明度が一様に上がる）、色覚の多様性に配慮、グレースケールで印刷しても読める",
    },
    "colormap.inferno": {
        "en": "perceptually uniform, black to yellow, makes peaks stand out",
        "ja": "知覚的に均一、黒から黄色へ、ピークが目立つ",
    },
    "colormap.turbo": {
        "en": "smoothed rainbow without jet's sharp bands, but not uniform: lightness rises, then falls",
        "ja": "jet のような鋭い帯のない滑らかな虹色。ただし均一ではなく、明度は上がってから下がる",
    },
    "colormap.jet": {
        "en": "the classic Grad-CAM rainbow; lightness rises and falls with bends that suggest edges not in the data",
        "ja": "Grad-CAM でおなじみの虹色。明度が折れ曲がりながら上下し、データにない境界があるように見せる",
    },
    # ----- sanity.py: the randomisation test's table (SanityResult.summary), printed by notebooks 07 and 09
    "sanity.title": {
        "en": "Spearman rank correlation with the trained model's maps (mean over {over}; Grad-CAM layer '{layer}')",
        "ja": "学習済みモデルのマップとの Spearman 順位相関（{over}の平均、Grad-CAM の層 '{layer}'）",
    },
    "sanity.over_images": {"en": "{images} image(s)", "ja": "{images} 枚の画像"},
    "sanity.over_seeds": {"en": " x {seeds} seeds", "ja": " x {seeds} シード"},
    "sanity.step": {"en": "step", "ja": "段階"},
    "sanity.randomised_down_to": {"en": "randomised down to", "ja": "ランダム化した最後の層"},
    # ----- explorer.py, explorer_models.py
    "explorer.slow": {"en": "slow: one forward pass per channel", "ja": "低速: チャンネルごとに 1 回の順伝播"},
    "explorer.caption": {
        "en": "{class_caption} · layer {layer} ({height}x{width}) · {method}",
        "ja": "{class_caption} · レイヤー {layer} ({height}x{width}) · {method}",
    },
    "explorer.empty": {
        "en": " · no positive evidence for this class here: the map is empty",
        "ja": " · この画像にはこのクラスの正の根拠がありません。マップは空です",
    },
    "explorer.upload_failed": {
        "en": "Could not use the upload {name!r}: {reason}",
        "ja": "アップロードされた {name!r} を使えませんでした: {reason}",
    },
    "explorer.imagenet_model": {"en": "{name} (ImageNet)", "ja": "{name}（ImageNet で学習）"},
    "explorer.teaching_model": {"en": "{name} (teaching)", "ja": "{name}（教材用）"},
    # ----- widgets.py: the controls' labels
    "widget.model": {"en": "model", "ja": "モデル"},
    "widget.image": {"en": "image", "ja": "画像"},
    "widget.upload": {"en": "upload", "ja": "アップロード"},
    "widget.class": {"en": "class", "ja": "クラス"},
    "widget.by_name": {"en": "by name", "ja": "名前で"},
    "widget.type_class": {"en": "type a class name", "ja": "クラス名を入力"},
    "widget.layer": {"en": "layer", "ja": "レイヤー"},
    "widget.method": {"en": "method", "ja": "手法"},
    "widget.opacity": {"en": "opacity", "ja": "不透明度"},
    "widget.colormap": {"en": "colormap", "ja": "カラーマップ"},
    "widget.heatmap": {"en": "heatmap", "ja": "ヒートマップ"},
    "widget.overlay": {"en": "overlay", "ja": "重ね合わせ"},
    # ----- widgets.py: the snapshot
    "snapshot.repr": {"en": "explorer snapshot: {caption}", "ja": "エクスプローラーのスナップショット: {caption}"},
    "snapshot.image": {"en": "image: {image}", "ja": "画像: {image}"},
    "snapshot.overlay": {"en": "overlay (opacity {alpha:g})", "ja": "重ね合わせ（不透明度 {alpha:g}）"},
    "snapshot.heading": {
        "en": "{model} · layer {size} · {method} · colormap {colormap}",
        "ja": "{model} · レイヤー {size} · {method} · カラーマップ {colormap}",
    },
    "snapshot.heading_empty": {
        "en": "\nno positive evidence for this class here: the map is empty",
        "ja": "\nこの画像にはこのクラスの正の根拠がありません。マップは空です",
    },
    "snapshot.caption": {
        "en": "map of {explained} ({p}) · predicted {predicted} ({top}) · layer {size} · {method}",
        "ja": "{explained} のマップ ({p}) · 予測 {predicted} ({top}) · レイヤー {size} · {method}",
    },
    "snapshot.caption_empty": {"en": " · the map is empty", "ja": " · マップは空です"},
}
