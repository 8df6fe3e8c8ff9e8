"""Shared pytest fixtures. Fixture implementations live in tests/fixtures/*.py."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from fixtures.host import *  # noqa: E402,F403
from fixtures.images import *  # noqa: E402,F403
from fixtures.tiny_diffusers import *  # noqa: E402,F403
from fixtures.tiny_sam import *  # noqa: E402,F403
from fixtures.wild_checkpoints import *  # noqa: E402,F403
