"""Test stand-in for the AUTOMATIC1111 WebUI v1.10.1 ``modules`` package (tests only).

Same names, signatures and observable behaviour as the host for what an extension calls; none of
the host's code. Stub-only helpers live in the top-level ``webui_stub`` module.
"""
