"""``python -m gradcam_utils.cli``: the same as the ``gradcam`` command."""

import sys

from .commands import main

sys.exit(main())
