"""Adds the ``--ia-*`` command-line flags to the WebUI's argument parser (called once at start)."""

import os
import sys

_root = os.path.dirname(os.path.abspath(__file__))
if _root not in sys.path:
    sys.path.insert(0, _root)


def preload(parser):
    from inpaint_anything.config import add_cli_arguments

    add_cli_arguments(parser)
