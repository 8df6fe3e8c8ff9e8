"""Inpainting: the request type, backends (diffusers, classical cleaners, WebUI checkpoint) and the engine."""
