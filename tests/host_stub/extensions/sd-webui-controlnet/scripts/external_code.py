from internal_controlnet.external_code import *  # noqa: F403 (as the extension's scripts/external_code.py)
