"""Old name of ``modules.infotext_utils`` (the host aliases it in sys.modules since v1.8)."""

import sys

from modules import infotext_utils

sys.modules[__name__] = infotext_utils
