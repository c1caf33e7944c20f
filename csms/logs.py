"""structlog configuration: event names plus fields, JSON off a terminal.

Call :func:`configure_logging` once, from the composition root or a CLI entry point. Modules
get their logger with ``structlog.get_logger(__name__)`` and bind ``station_id`` and
``message_id`` where they know them.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import orjson
import structlog
from structlog.typing import Processor

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}


def _dumps(obj: object, **_: object) -> str:
    return orjson.dumps(obj, default=str).decode()


def configure_logging(
    level: Literal["debug", "info", "warning", "error"] = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
    cache: bool = True,
) -> None:
    """Route structlog (and the standard library's warnings) to ``stream``.

    ``auto`` renders for people on a terminal and as one JSON object a line elsewhere.
    ``cache=False`` lets tests capture events with ``structlog.testing.capture_logs``.
    """
    out = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    processors: list[Processor]
    if as_json:
        processors = [
            *shared,
            # Without locals: a traceback line stays short and carries no payloads.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)),
            structlog.processors.JSONRenderer(serializer=_dumps),
        ]
    else:
        processors = [*shared, structlog.dev.ConsoleRenderer(colors=out.isatty())]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=cache,
    )
    logging.basicConfig(level=max(LEVELS[level], logging.WARNING), stream=out,
                        format="%(levelname)s %(name)s %(message)s", force=True)
