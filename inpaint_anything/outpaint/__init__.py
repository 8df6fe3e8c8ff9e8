"""Outpainting: canvas geometry, pre-fills of the new area, and the engine."""
