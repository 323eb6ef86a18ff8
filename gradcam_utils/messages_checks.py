"""The exercise checks' feedback in English and Japanese (``feedback``, ``exercises``, ``capstone_checks``).

Loaded by ``gradcam_utils.i18n`` on first use; a check writes ``text("ex.facts.right")`` (see ``i18n.text``). Keys
are grouped by notebook; the English texts are the ones the checks showed before the Japanese edition, unchanged.
Identifiers in a message (function names, ``'star'``, ``None``) stay as they are: the learner types them.
"""

MESSAGES = {
    # ----- shared by every check (feedback.py)
    "check.no_answer": {
        "en": "No answer yet: replace None with your answer and run the cell again.",
        "ja": "まだ答えがありません。None をあなたの答えに置き換えて、セルをもう一度実行してください。",
    },
    "check.expected_number": {
        "en": "Expected a number for {what}; got {answer!r}.",
        "ja": "{what}には数値を入れてください。受け取った値: {answer!r}",
    },
    "check.close_right": {"en": "Right: {what} is {expected:.3g}.", "ja": "正解です。{what}は {expected:.3g} です。"},
    "check.close_wrong": {
        "en": "Not yet: {value:.3g} is not {what}. Hint: {hint}",
        "ja": "まだです。{value:.3g} は{what}ではありません。ヒント: {hint}",
    },
    "check.raised": {
        "en": "Your function raised {error}: {message}",
        "ja": "あなたの関数が {error} を送出しました: {message}",
    },
    # ----- 01 · why interpretability
    "ex.facts.keys": {
        "en": "Answer with a dict that has exactly the statements of GRADCAM_FACTS as keys.",
        "ja": "GRADCAM_FACTS の文をそのままキーとして、過不足なく持つ dict で答えてください。",
    },
    "ex.facts.open": {
        "en": "{open} of {total} statements are still None, e.g. {example!r}: replace each None with True or False.",
        "ja": "{total} 個の文のうち {open} 個がまだ None です（例: {example!r}）。"
        "それぞれの None を True か False に置き換えてください。",
    },
    "ex.facts.right": {
        "en": "Right: class-discriminative, coarse, needs no retraining, and explains, not proves.",
        "ja": "正解です。Grad-CAM はクラスごとに異なるマップを出し（クラス識別的）、解像度は粗く、再学習は不要で、"
        "予測を説明はしますが、その正しさを証明はしません。",
    },
    "ex.facts.wrong": {
        "en": "{wrong} of {total} wrong, e.g. Grad-CAM {example!r}: think again.",
        "ja": "{total} 個のうち {wrong} 個が違います（例: Grad-CAM {example!r}）。もう一度考えてみてください。",
    },
    "ex.marker_share.what": {
        "en": "the share of 'star' answers (a fraction between 0 and 1)",
        "ja": "'star' と答えた割合（0 から 1 の間の小数）",
    },
    "ex.marker_share.hint": {
        "en": "make_shapes(200, seed=11, cue='correlated', cue_kind='position'), then count how often "
        "predict(...).argmax(axis=1) equals the index of 'star' in class_names, and divide by 200.",
        "ja": "make_shapes(200, seed=11, cue='correlated', cue_kind='position') で画像を作り、"
        "predict(...).argmax(axis=1) が class_names の中の 'star' のインデックスと一致する回数を数えて、"
        "200 で割ります。",
    },
    # ----- 02 · the gradient math
    "ex.blue.shape": {
        "en": "Expected one weight per channel, shape {expected}; got shape {got}.",
        "ja": "チャンネルごとに 1 つの重み、つまり形状 {expected} を期待していました。受け取った形状: {got}。",
    },
    "ex.blue.right": {
        "en": "Right: alpha^blue = {values} = w^blue / Z.",
        "ja": "正解です。alpha^blue = {values} = w^blue / Z です。",
    },
    "ex.blue.hint": {
        "en": "Not yet. Hint: the score is 10 x the mean of the blueness map; how much does it grow "
        "when one of the 64 positions grows by 1?",
        "ja": "まだです。ヒント: スコアは「青さ」のマップの平均の 10 倍です。64 個の位置のうち 1 つが 1 増えると、"
        "スコアはどれだけ増えるでしょうか？",
    },
    "ex.gradcam_fn.shape": {
        "en": "Expected maps of shape {expected} (one per image); got {got}.",
        "ja": "形状 {expected} のマップ（画像ごとに 1 枚）を期待していました。受け取った形状: {got}。",
    },
    "ex.gradcam_fn.right": {
        "en": "Right: spatial mean of the gradients per image, weighted sum, ReLU.",
        "ja": "正解です。画像ごとに勾配の空間平均をとり、重み付き和を計算して、ReLU をかけます。",
    },
    "ex.gradcam_fn.batch": {
        "en": "You averaged over the batch too (axes 0, 1, 2): average over axes (1, 2) only.",
        "ja": "バッチ方向にも平均をとっています（軸 0, 1, 2）。平均は軸 (1, 2) だけでとってください。",
    },
    "ex.gradcam_fn.relu": {
        "en": "Almost: apply the ReLU, negative evidence is not shown.",
        "ja": "あと少しです。ReLU をかけてください。負の根拠は表示しません。",
    },
    "ex.gradcam_fn.hint": {
        "en": "Not yet. Hint: alpha = grads.mean(axis=(1, 2)); map = ReLU(sum_k alpha_k A^k).",
        "ja": "まだです。ヒント: alpha = grads.mean(axis=(1, 2)); map = ReLU(sum_k alpha_k A^k) です。",
    },
    "ex.counterfactual.right_empty": {
        "en": "Right: the 'red' score has no negative weight on any channel, so nothing in the "
        "picture counts against it and the counterfactual map is all zeros.",
        "ja": "正解です。'red' のスコアはどのチャンネルにも負の重みを持たないので、画像の中にそれに反する根拠はなく、"
        "反実仮想（counterfactual）マップはすべて 0 になります。",
    },
    "ex.counterfactual.right": {
        "en": "Right: the {square} square is evidence against 'red'.",
        "ja": "正解です。{square} の正方形が 'red' に反する根拠です。",
    },
    "ex.counterfactual.hint": {
        "en": "Not yet. Hint: the counterfactual weights are -alpha; look at the signs of w^red.",
        "ja": "まだです。ヒント: 反実仮想の重みは -alpha です。w^red の符号を見てください。",
    },
    # ----- 03 · the article's recipe on a real network
    "ex.class_index.unknown": {
        "en": "{name!r} is not an ImageNet class name; try bundle.class_names to look.",
        "ja": "{name!r} は ImageNet のクラス名ではありません。bundle.class_names で確かめてください。",
    },
    "ex.class_index.right": {
        "en": "Right: {name!r} is class {index}.",
        "ja": "正解です。{name!r} はクラス {index} です。",
    },
    "ex.class_index.hint": {
        "en": "Not yet. Hint: bundle.class_names.index({name!r}).",
        "ja": "まだです。ヒント: bundle.class_names.index({name!r}) を使います。",
    },
    "ex.espresso.what": {"en": "the probability of 'espresso'", "ja": "'espresso' の確率"},
    "ex.espresso.hint": {
        "en": "bundle.decode(bundle.predict(photo), top=...) lists (index, name, probability).",
        "ja": "bundle.decode(bundle.predict(photo), top=...) が (インデックス, 名前, 確率) の一覧を返します。",
    },
    "ex.left_half.what": {
        "en": "the share of the '{class_name}' map on the left half",
        "ja": "'{class_name}' のマップのうち左半分にある割合",
    },
    "ex.left_half.hint": {
        "en": "upsample the map to the input size, then divide the sum of its left half by its total.",
        "ja": "マップを入力サイズまでアップサンプリングし、左半分の合計を全体の合計で割ります。",
    },
    # ----- 04 · heatmaps and overlays
    "ex.bilinear.what": {"en": "the bilinear value at (0, 1)", "ja": "(0, 1) における双線形補間（bilinear）の値"},
    "ex.bilinear.hint": {
        "en": "output pixel j sits at input coordinate (j + 0.5) * 2/4 - 0.5; clamp it to the edges.",
        "ja": "出力ピクセル j は入力座標 (j + 0.5) * 2/4 - 0.5 にあります。範囲外の座標は端に合わせます（クランプ）。",
    },
    "ex.blend.what": {"en": "(1 - alpha) * image + alpha * colour", "ja": "(1 - alpha) * 画像 + alpha * 色"},
    "ex.blend.hint": {
        "en": "at alpha = 0 you see the image only, at alpha = 1 the colour only.",
        "ja": "alpha = 0 では画像だけが、alpha = 1 では色だけが見えます。",
    },
    # ----- 05 · the interactive explorer
    "ex.layer_size.format": {
        "en": "Answer with (rows, columns), e.g. (7, 7); got {answer!r}.",
        "ja": "(行数, 列数) の形で答えてください（例: (7, 7)）。受け取った値: {answer!r}",
    },
    "ex.layer_size.right": {
        "en": "Right: {layer} has {rows}x{cols} positions.",
        "ja": "正解です。{layer} には {rows}x{cols} 個の位置があります。",
    },
    "ex.layer_size.hint": {
        "en": "Not yet. Hint: the layer list shows each layer's size in brackets.",
        "ja": "まだです。ヒント: レイヤーの一覧には、各レイヤーのサイズが括弧の中に表示されています。",
    },
    "ex.marker_sample.right_off": {
        "en": "Right: it says {name!r}. But its map is not on the marker: {share:.1%} of the map's energy lies on the "
        'marker, which covers {area:.1%} of the picture. In notebook 01 this model answered "star" for pictures '
        'without any marker: "star" is its answer when none of the other four classes\' colours is there, so it '
        "needs no star-coloured marker.",
        "ja": "正解です。モデルの答えは {name!r} です。しかし、そのマップはマーカーの上にはありません。マップの"
        "エネルギーのうちマーカーの上にあるのは {share:.1%} で、マーカーは画像の {area:.1%} を占めています。"
        "ノートブック 01 では、このモデルはマーカーのない画像に「star」と答えました。ほかの四つのクラスの色がないとき"
        "の答えが「star」なので、star の色のマーカーは必要ないのです。",
    },
    "ex.marker_sample.right_on": {
        "en": "Right: it says {name!r}, and its map sits on the marker: {share:.1%} of the map's energy lies on the "
        "marker, {ratio:.1f} times the {area:.1%} of the picture the marker covers.",
        "ja": "正解です。モデルの答えは {name!r} で、そのマップはマーカーの上にあります。マップのエネルギーの "
        "{share:.1%} がマーカーの上にあり、マーカーが占める画像の {area:.1%} の {ratio:.1f} 倍です。",
    },
    "ex.marker_sample.hint": {
        "en": "Not yet. Hint: look at the class list's first entry after picking that picture.",
        "ja": "まだです。ヒント: その画像を選んだあと、クラス一覧の最初の項目を見てください。",
    },
    # ----- 06 · applications
    "ex.iou.what": {"en": "the IoU (25 / 175)", "ja": "IoU（25 / 175）の値"},
    "ex.iou.hint": {
        "en": "intersection area / (area A + area B - intersection area).",
        "ja": "共通部分の面積 / (A の面積 + B の面積 - 共通部分の面積) です。",
    },
    "ex.marker_energy.what": {
        "en": "the mean energy share on the marker ({ratio:.0f}x its area)",
        "ja": "マーカー上のエネルギーの平均割合（マーカーの面積の {ratio:.0f} 倍）",
    },
    "ex.marker_energy.hint": {
        "en": "compute_heatmaps with class_index=batch.labels (the true classes), then "
        "metrics.energy_pointing_game(maps, batch.cue_masks).mean().",
        "ja": "class_index=batch.labels（正解クラス）で compute_heatmaps を計算し、"
        "metrics.energy_pointing_game(maps, batch.cue_masks).mean() をとります。",
    },
    # ----- 07 · evaluation and limits
    "ex.scorecam.right": {
        "en": "Right: 1 + {channels} channels = {expected} forward passes per image.",
        "ja": "正解です。1 + {channels} チャンネル = 画像ごとに {expected} 回の順伝播（forward pass）です。",
    },
    "ex.scorecam.hint": {
        "en": "Not yet. Hint: one pass for the activations, then one per channel of the layer.",
        "ja": "まだです。ヒント: 活性を得るために 1 回、そのあと層のチャンネルごとに 1 回ずつです。",
    },
    "ex.deletion.right": {
        "en": "Right: deletion AUC Grad-CAM {gradcam:.2f}, object mask {mask:.2f}.",
        "ja": "正解です。削除（deletion）曲線の AUC は Grad-CAM が {gradcam:.2f}、物体マスクが {mask:.2f} です。",
    },
    "ex.deletion.hint": {
        "en": "Not yet. Hint: faithfulness.deletion_curve(flat.model, x[:20], maps, test.labels[:20], "
        "steps=16).mean_auc for both, with the masks as float maps.",
        "ja": "まだです。ヒント: 両方について faithfulness.deletion_curve(flat.model, x[:20], maps, "
        "test.labels[:20], steps=16).mean_auc を計算します。マスクは float のマップとして渡します。",
    },
    # ----- 08 · beyond the CNN classifier
    "ex.rather.what": {
        "en": "the share of 'circle - square' maps whose peak is on the circle",
        "ja": "'circle - square' のマップのうち、ピークが円の上にあるものの割合",
    },
    "ex.rather.hint": {
        "en": "gc.explain(gap.model, x_pairs, target=Difference(CIRCLE, SQUARE)), then "
        "metrics.pointing_game(result.heatmaps, on[CIRCLE]).mean().",
        "ja": "gc.explain(gap.model, x_pairs, target=Difference(CIRCLE, SQUARE)) を計算し、"
        "metrics.pointing_game(result.heatmaps, on[CIRCLE]).mean() をとります。",
    },
    "ex.vit.format": {
        "en": "Answer with a set of layer names from VIT_LAYER_CHOICES; got {answer!r}.",
        "ja": "VIT_LAYER_CHOICES の中の層の名前の集合（set）で答えてください。受け取った値: {answer!r}",
    },
    "ex.vit.unknown": {
        "en": "{unknown} are not among VIT_LAYER_CHOICES {choices}.",
        "ja": "{unknown} は VIT_LAYER_CHOICES {choices} に含まれていません。",
    },
    "ex.vit.right": {
        "en": "Right: {layers} come after the last attention (or are its output).",
        "ja": "正解です。{layers} は最後のアテンション（attention）より後ろにあります（またはその出力そのものです）。",
    },
    "ex.vit.hint": {
        "en": "Not yet ({missed} missing, {extra} too many). Hint: a patch token's gradient is zero once no "
        "attention follows that could pass it to the class token; is the last attention's own output still read?",
        "ja": "まだです（{missed} 個足りず、{extra} 個多すぎます）。ヒント: パッチトークンの勾配は、"
        "それをクラストークンへ渡せるアテンションが後ろに無くなった時点で 0 になります。"
        "最後のアテンション自身の出力は、まだ読まれているでしょうか？",
    },
    "ex.occlusion.what": {
        "en": "Grad-CAM's mean rho with the 24-pixel occlusion map",
        "ja": "Grad-CAM と 24 ピクセルの遮蔽（occlusion）マップとの rho の平均",
    },
    "ex.occlusion.hint": {
        "en": "gc.occlusion_sensitivity(flat.model, x_test, class_index=test.labels, patch=24, stride=8, "
        "substrate='blur'), then rank_correlation(cams['gradcam'].heatmaps, that.heatmaps).mean().",
        "ja": "gc.occlusion_sensitivity(flat.model, x_test, class_index=test.labels, patch=24, stride=8, "
        "substrate='blur') を計算し、rank_correlation(cams['gradcam'].heatmaps, that.heatmaps).mean() をとります。",
    },
    # ----- 09 · capstone (capstone_checks.py)
    "cap.layer.right": {
        "en": "Right: {expected!r} is the last layer with positions (rows x columns) whose "
        "features the head turns into class scores.",
        "ja": "正解です。{expected!r} は位置（行 x 列）を持つ最後の層で、その特徴をヘッドがクラススコアに変換します。",
    },
    "cap.layer.unknown": {
        "en": "{answer!r} is not a layer of {model!r}; its layers are {names}.",
        "ja": "{answer!r} は {model!r} の層ではありません。このモデルの層は {names} です。",
    },
    "cap.layer.flat": {
        "en": "{answer!r} outputs {shape}: no rows and columns, so no positions to weight. Go back to the last "
        "layer that still has them.",
        "ja": "{answer!r} の出力は {shape} です。行と列が無いので、重み付けする位置がありません。"
        "まだ行と列を持つ最後の層まで戻ってください。",
    },
    "cap.layer.after": {
        "en": "{answer!r} comes after the last convolution's rectified maps and only passes "
        "them on; Grad-CAM weights the feature maps themselves.",
        "ja": "{answer!r} は最後の畳み込みの ReLU 後のマップより後ろにあり、それを受け渡すだけです。"
        "Grad-CAM が重み付けするのは特徴マップ（feature map）そのものです。",
    },
    "cap.layer.before_relu": {
        "en": "Almost: {answer!r} is that convolution before its ReLU. Grad-CAM weights the "
        "rectified feature maps, the layer right after it.",
        "ja": "あと少しです。{answer!r} は ReLU をかける前のその畳み込みです。Grad-CAM が重み付けするのは "
        "ReLU 後の特徴マップ、つまりその直後の層です。",
    },
    "cap.layer.earlier": {
        "en": "{answer!r} is an earlier layer: its grid is finer, but its features are about edges "
        "and texture rather than the classes (notebook 07). Look further towards the head.",
        "ja": "{answer!r} はもっと前の層です。格子は細かいのですが、その特徴はクラスよりもエッジやテクスチャに"
        "関するものです（ノートブック 07）。もっとヘッドに近い側を探してください。",
    },
    "cap.energy.not_function": {
        "en": "Expected a function (heatmap, mask) -> number; got {kind}.",
        "ja": "関数 (heatmap, mask) -> 数値 を期待していました。受け取った型: {kind}",
    },
    "cap.energy.right": {
        "en": "Right: upsample the map to the mask's size, then energy on the mask / total energy "
        "(0 for a map with no energy at all).",
        "ja": "正解です。マップをマスクのサイズまでアップサンプリングし、マスク上のエネルギー / 全エネルギーを"
        "計算します（エネルギーがまったく無いマップでは 0）。",
    },
    "cap.energy.zeros": {
        "en": "Almost: a map of zeros has no energy anywhere; return 0.0 for it (got {got}).",
        "ja": "あと少しです。値がすべてゼロのマップにはどこにもエネルギーがありません。その場合は 0.0 を返してください"
        "（返った値: {got}）。",
    },
    "cap.energy.nearest": {
        "en": "Close: you enlarged the map by repeating cells; upsample it bilinearly with "
        "gc.upsample_heatmap(heatmap, mask.shape), as the metric does.",
        "ja": "惜しいです。セルを繰り返してマップを拡大しています。指標と同じように、"
        "gc.upsample_heatmap(heatmap, mask.shape) で双線形にアップサンプリングしてください。",
    },
    "cap.energy.mean": {
        "en": "You took the mean of the map on the object; the share is the SUM on the object "
        "divided by the SUM over the whole picture.",
        "ja": "物体上のマップの平均をとっています。割合は、物体上の「合計」を画像全体の「合計」で割ったものです。",
    },
    "cap.energy.hint": {
        "en": "Not yet. Hint: up = gc.upsample_heatmap(heatmap, mask.shape); then "
        "up[mask].sum() / up.sum() (and 0.0 when the sum is 0).",
        "ja": "まだです。ヒント: up = gc.upsample_heatmap(heatmap, mask.shape) とし、"
        "up[mask].sum() / up.sum() を計算します（合計が 0 のときは 0.0）。",
    },
    "cap.sanity.format": {
        "en": "Answer True (it passes) or False (it fails); got {answer!r}.",
        "ja": "True（合格）か False（不合格）で答えてください。受け取った値: {answer!r}",
    },
    "cap.sanity.right_pass": {
        "en": "Right: mean rank correlations {numbers} after the first {steps} steps, all below {threshold}.",
        "ja": "正解です。最初の {steps} ステップ後の平均順位相関は {numbers} で、すべて {threshold} 未満です。",
    },
    "cap.sanity.right_fail": {
        "en": "Right: mean rank correlations {numbers} after the first {steps} steps, not all below {threshold}.",
        "ja": "正解です。最初の {steps} ステップ後の平均順位相関は {numbers} で、すべてが {threshold} 未満では"
        "ありません。",
    },
    "cap.sanity.wrong": {
        "en": "Not what the test finds: mean rank correlations {numbers}, threshold "
        "{threshold}. Which layers does the class score depend on, and what happens to the "
        "gradient when they are random?",
        "ja": "テストの結果とは違います。平均順位相関は {numbers}、しきい値は {threshold} です。"
        "クラススコアはどの層に依存していて、それらがランダムになると勾配はどうなるでしょうか？",
    },
    "cap.report.keys": {
        "en": "Expected a dict with exactly the keys {keys}.",
        "ja": "キーがちょうど {keys} である dict を期待していました。",
    },
    "cap.report.layer": {
        "en": "report['layer'] must name a layer of the model with rows and columns; got {layer!r}.",
        "ja": "report['layer'] には、行と列を持つモデルの層の名前を入れてください。受け取った値: {layer!r}",
    },
    "cap.report.shape": {
        "en": "Expected one map per image at {layer!r}, shape {expected}; got {got}.",
        "ja": "{layer!r} で画像ごとに 1 枚のマップ、つまり形状 {expected} を期待していました。受け取った形状: {got}。",
    },
    "cap.report.predicted": {
        "en": "Your maps explain the PREDICTED class; the report measures the true class "
        "(class_index=labels), so a wrong prediction still counts against the map.",
        "ja": "あなたのマップは「予測された」クラスを説明しています。レポートは正解クラス（class_index=labels）で"
        "測るので、予測を誤った画像もそのままマップの評価に数えます。",
    },
    "cap.report.not_gradcam": {
        "en": "Your maps are not Grad-CAM's maps of the true classes at {layer!r}. Hint: "
        "gc.compute_heatmaps(model, images, report['layer'], class_index=labels).",
        "ja": "あなたのマップは {layer!r} における正解クラスの Grad-CAM マップではありません。ヒント: "
        "gc.compute_heatmaps(model, images, report['layer'], class_index=labels) を使います。",
    },
    "cap.report.accuracy_hint": {
        "en": "the share of these pictures whose top logit is the label",
        "ja": "最大のロジット（logit）がラベルと一致する画像の割合",
    },
    "cap.report.energy_hint": {
        "en": "metrics.energy_pointing_game(heatmaps, masks).mean()",
        "ja": "metrics.energy_pointing_game(heatmaps, masks).mean() の値",
    },
    "cap.report.random_hint": {
        "en": "the same for a uniform random map; it lands near the object's area",
        "ja": "一様ランダムなマップで同じものを計算した値。物体の面積に近くなります",
    },
    "cap.report.off": {
        "en": "{key} is {value:.3f} here, not {given!r} ({hint})",
        "ja": "{key} はここでは {value:.3f} で、{given!r} ではありません（{hint}）",
    },
    "cap.report.sanity_off": {
        "en": "passes_sanity is {passes} here (mean correlations {means})",
        "ja": "passes_sanity はここでは {passes} です（平均相関 {means}）",
    },
    "cap.report.problems": {"en": "Not yet: {problems}.", "ja": "まだです。{problems}。"},
    "cap.report.separator": {"en": "; ", "ja": "。"},  # between the problems above
    "cap.report.passed": {"en": "passed", "ja": "合格"},
    "cap.report.failed": {"en": "failed", "ja": "不合格"},
    "cap.report.right": {
        "en": "Your report holds: at {layer!r} accuracy {accuracy:.1%}, energy on the object "
        "{energy:.2f} against {area:.2f} for a random map, sanity check {verdict}.",
        "ja": "あなたのレポートは正しいです。{layer!r} で正解率 {accuracy:.1%}、物体上のエネルギーは "
        "{energy:.2f}（ランダムなマップでは {area:.2f}）、健全性チェック（sanity check）は{verdict}です。",
    },
}
