"""Where the course's data lives, found from the package rather than from the working directory.

The notebooks compute every number they state on models that ship with the course or inside a package (the shapes
models, the embedded EfficientNet-Lite0), so their committed outputs are what any learner sees, with no setting to
make. The article's Xception appears in notebook 03 as an architecture, and as a trained network only on a machine
that has its weights (that cell's output is not compared).
"""

from __future__ import annotations

from pathlib import Path

#: The course's data folder (images and teaching models).
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
