"""Segment Anything: safe checkpoint loading, architecture inference and model building.

See :mod:`inpaint_anything.segment.checkpoint` (the public loading API).
"""
