"""Shared OpenAPI texts of the routes and the URL prefix: a leaf, so every route module imports it downward."""

from __future__ import annotations

from typing import Any

API_PREFIX = "/inpaint-anything/v1"

PNG_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}, "description": "A PNG image."}}
PREPARE_DOC = (
    "SAM model id to start encoding the image with in the background; by default a session that "
    "already used a SAM model prepares with it; 'none' never prepares."
)
ASYNC_DOC = "Run in the background: answer 202 with a task id at once; poll GET /tasks/{task_id}."
ASYNC_RESPONSES: dict[int | str, dict[str, Any]] = {202: {"description": "With async=true: the queued task."}}

__all__ = ["API_PREFIX", "ASYNC_DOC", "ASYNC_RESPONSES", "PNG_RESPONSE", "PREPARE_DOC"]
