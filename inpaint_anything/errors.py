"""Errors shown to users.

Every error raised for bad input or a missing resource derives from :class:`IAError` and carries a
message written for a WebUI user (what went wrong and what to do). The UI shows the message, the
REST API maps ``status_code`` to the HTTP status, and the batch runner reports it per file.
"""

from __future__ import annotations


class IAError(Exception):
    """Base class for errors whose message is meant for the user.

    ``status_code`` is the HTTP status the REST API answers with: 400 here, and for a subclass the
    ``status`` it names (``class GoneError(IAError, status=410)``) or else its base's.
    """

    status_code = 400

    def __init_subclass__(cls, status: int | None = None, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status_code = status

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


class InvalidInputError(IAError, status=422):
    """An image, mask, prompt or parameter the request cannot use."""


class ImageTooLargeError(InvalidInputError, status=413):
    """The image has more pixels than the configured limit."""


class SessionExpiredError(IAError, status=410):
    """The session was dropped to free memory for other sessions; its image, mask and results are gone."""


class ModelNotFoundError(IAError, status=404):
    """A model id that is not in the catalogue, or a model file that is not on disk."""


class UnsafeCheckpointError(IAError, status=422):
    """A checkpoint that would need to run code to load (a pickle with globals)."""


class UnrecognizedCheckpointError(IAError, status=422):
    """A weights file whose architecture we cannot infer."""


class OfflineError(IAError, status=409):
    """The file is missing and offline mode forbids downloading it."""


class DownloadError(IAError, status=502):
    """A download failed or its checksum did not match."""


class UnavailableError(IAError, status=501):
    """A feature that this installation cannot offer (missing package, host too old, ...)."""


class NotReadyError(UnavailableError, status=503):
    """A feature this installation has, but that cannot run right now (e.g. no checkpoint loaded yet)."""


class JobInterrupted(IAError, status=409):
    """The user interrupted a running job."""


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
