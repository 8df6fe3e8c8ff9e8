"""Errors shown to users.

Every error raised for bad input or a missing resource derives from :class:`IAError` and carries a
message written for a WebUI user (what went wrong and what to do). The UI shows the message, the
REST API maps ``status_code`` to the HTTP status, and the batch runner reports it per file.
"""

from __future__ import annotations


class IAError(Exception):
    """Base class for errors whose message is meant for the user."""

    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def error_code(exc: BaseException) -> str:
    """A stable machine-readable code for an error: its class name in snake case without "Error"
    (InvalidInputError -> "invalid_input", SessionExpiredError -> "session_expired")."""
    import re

    name = type(exc).__name__
    name = name[: -len("Error")] if name.endswith("Error") and name != "Error" else name
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class InvalidInputError(IAError):
    """An image, mask, prompt or parameter the request cannot use."""

    status_code = 422


class ImageTooLargeError(InvalidInputError):
    """The image has more pixels than the configured limit."""

    status_code = 413


class SessionExpiredError(IAError):
    """The session was dropped to free memory for other sessions; its image, mask and results are gone."""

    status_code = 410


class ModelNotFoundError(IAError):
    """A model id that is not in the catalogue, or a model file that is not on disk."""

    status_code = 404


class UnsafeCheckpointError(IAError):
    """A checkpoint that would need to run code to load (a pickle with globals)."""

    status_code = 422


class UnrecognizedCheckpointError(IAError):
    """A weights file whose architecture we cannot infer."""

    status_code = 422


class OfflineError(IAError):
    """The file is missing and offline mode forbids downloading it."""

    status_code = 409


class DownloadError(IAError):
    """A download failed or its checksum did not match."""

    status_code = 502


class UnavailableError(IAError):
    """A feature that this installation cannot offer (missing package, host too old, ...)."""

    status_code = 501


class NotReadyError(UnavailableError):
    """A feature this installation has, but that cannot run right now (e.g. no checkpoint loaded yet)."""

    status_code = 503


class JobInterrupted(IAError):
    """The user interrupted a running job."""

    status_code = 409


__all__ = [
    "DownloadError",
    "IAError",
    "ImageTooLargeError",
    "InvalidInputError",
    "JobInterrupted",
    "ModelNotFoundError",
    "NotReadyError",
    "OfflineError",
    "UnavailableError",
    "UnrecognizedCheckpointError",
    "UnsafeCheckpointError",
]
