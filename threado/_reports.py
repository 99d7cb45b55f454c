"""Reports of failures nobody retrieved: the logger and the traceback text.

A thread that failed and whose outcome nobody retrieved is reported once,
through ``logging`` (SPEC §1), when its handle is collected or at exit.
``logging`` and ``traceback`` are loaded by :func:`_logger` when a thread
fails, not at ``import threado``, and not later in a ``__del__``.
"""

from __future__ import annotations

import threading

from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

__all__ = ["_logger", "_report"]


def _logger() -> logging.Logger:
    """Return threado's logger, importing what reports need on first use.

    ``logging`` and ``traceback`` cost milliseconds at ``import threado`` and
    only reports use them. A thread that fails calls this as it ends (in
    ``_record``), so that a report written later from ``__del__``, wherever
    the garbage collector runs, imports nothing.
    """
    import logging
    import traceback  # noqa: F401 -- loaded for _plain_traceback (see above)

    return logging.getLogger("threado")


def _report(name: str, exc: BaseException) -> None:
    """Log an unretrieved failure, with its traceback.

    Often called from ``Thread.__del__``, that is, wherever the garbage
    collector runs, possibly inside ``ast.parse``; CPython 3.11's traceback
    formatting calls ``ast.parse`` (for its ``^^^`` markers), which must not
    run there (it corrupts the outer parse). So the record carries its
    traceback text ready-made, without those markers, and handlers use it.
    The collector may also run in a thread's end hook, after ``threading``
    forgot the thread: the record's ``threading.current_thread()`` then
    registers a ``_DummyThread`` that would stay listed for ever, so it is
    forgotten again.
    """
    import logging  # loaded by _logger() when the failure was recorded

    logger = _logger()
    if not logger.isEnabledFor(logging.ERROR):
        return
    ident = threading.get_ident()
    known = ident in threading._active  # type: ignore[attr-defined]
    try:
        record = logger.makeRecord(
            logger.name,
            logging.ERROR,
            __file__,
            0,
            "thread %r failed and its exception was never retrieved",
            (name,),
            (type(exc), exc, exc.__traceback__),
        )
    finally:
        if not known:
            with threading._active_limbo_lock:  # type: ignore[attr-defined]
                if isinstance(threading._active.get(ident), threading._DummyThread):  # type: ignore[attr-defined]
                    del threading._active[ident]  # type: ignore[attr-defined]
    record.exc_text = _plain_traceback(exc)
    logger.handle(record)


def _plain_traceback(exc: BaseException) -> str:
    """``traceback.format_exception(exc)`` without the position markers."""
    import traceback  # loaded by _logger() when the failure was recorded

    parts: list[str] = []
    seen: set[int] = set()

    def walk(e: BaseException) -> None:
        seen.add(id(e))
        if e.__cause__ is not None and id(e.__cause__) not in seen:
            walk(e.__cause__)
            parts.append(
                "\nThe above exception was the direct cause of the following exception:\n\n"
            )
        elif (
            e.__context__ is not None
            and not e.__suppress_context__
            and id(e.__context__) not in seen
        ):
            walk(e.__context__)
            parts.append(
                "\nDuring handling of the above exception, another exception occurred:\n\n"
            )
        frames = [
            (f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(e.__traceback__)
        ]
        if frames:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_list(frames))  # type: ignore[arg-type]
        parts.extend(traceback.format_exception_only(type(e), e))

    walk(exc)
    return "".join(parts).rstrip("\n")
