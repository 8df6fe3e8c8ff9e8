"""``modules.errors`` (v1.10.1 subset): report/display print and record; they never raise.

``exception_records`` keeps what was reported so tests can assert that nothing failed silently.
"""

from __future__ import annotations

import sys
import traceback

exception_records: list[dict] = []


def record_exception(message: str = "") -> None:
    _, e, tb = sys.exc_info()
    if e is None:
        return
    exception_records.append(
        {
            "message": message,
            "exception": str(e),
            "type": type(e).__name__,
            "traceback": "".join(traceback.format_exception(type(e), e, tb)),
        }
    )


def report(message: str, *, exc_info: bool = False) -> None:
    """Print an error message (and the current traceback when exc_info) to stderr."""
    if exc_info:
        record_exception(message)
        print(message, file=sys.stderr)
        print(traceback.format_exc(), file=sys.stderr)
    else:
        exception_records.append({"message": message, "exception": None, "type": None, "traceback": ""})
        print(message, file=sys.stderr)


def print_error_explanation(message: str) -> None:
    print(message.strip(), file=sys.stderr)


def display(e: Exception, task: str, *, full_traceback: bool = False) -> None:
    record_exception(task)
    print(f"{task or 'error'}: {type(e).__name__}", file=sys.stderr)
    print(traceback.format_exc(), file=sys.stderr)


def display_once(e: Exception, task: str) -> None:
    display(e, task)


def run(code, task: str) -> None:
    try:
        code()
    except Exception as e:  # noqa: BLE001 - mirrors the host
        display(e, task)
