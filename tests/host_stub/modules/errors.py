"""``modules.errors`` (v1.10.1 subset): report/display print and record; they never raise.

``exception_records`` holds what was reported, each record as v1.10.1 writes it (``{"exception": str(e),
"traceback": [["<file>, line <n>, <function>", <code>], ...]}``) plus, for tests, ``message``, ``type``
and ``text`` (the printed traceback). v1.10.1 keeps only the last five; the stand-in keeps all, so that
tests can count what was reported.
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
            "exception": str(e),
            "traceback": [[f"{x.filename}, line {x.lineno}, {x.name}", x.line] for x in traceback.extract_tb(tb)],
            "message": message,
            "type": type(e).__name__,
            "text": "".join(traceback.format_exception(type(e), e, tb)),
        }
    )


def report(message: str, *, exc_info: bool = False) -> None:
    """Print an error message (and the current traceback when exc_info) to stderr."""
    if exc_info:
        record_exception(message)
        print(message, file=sys.stderr)
        print(traceback.format_exc(), file=sys.stderr)
    else:
        exception_records.append({"exception": None, "traceback": [], "message": message, "type": None, "text": ""})
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
