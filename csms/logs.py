"""structlog configuration: event names plus fields, JSON off a terminal.

Call :func:`configure_logging` once, from the composition root or a CLI entry point. Modules
get their logger with ``structlog.get_logger(__name__)`` and bind ``station_id`` and
``message_id`` where they know them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import orjson
import structlog
from structlog.typing import Processor

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}


def _dumps(obj: object, **_: object) -> str:
    return orjson.dumps(obj, default=str).decode()


class _NodeName:
    """Adds ``node`` to every event (a cluster's logs tell which node wrote a line)."""

    def __init__(self, node: str) -> None:
        self.node = node

    def __call__(self, _: Any, __: str, event: MutableMapping[str, Any]
                 ) -> MutableMapping[str, Any]:
        event.setdefault("node", self.node)
        return event


def configure_logging(
    level: Literal["debug", "info", "warning", "error"] = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
    cache: bool = True,
    node: str | None = None,
) -> None:
    """Route structlog (and the standard library's warnings) to ``stream``.

    ``auto`` renders for people on a terminal and as one JSON object a line elsewhere.
    ``cache=False`` lets tests capture events with ``structlog.testing.capture_logs``.
    ``node``: the cluster node's name, added to every line as ``node``.
    """
    out = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if node is not None:
        shared.insert(1, _NodeName(node))
    renderer: list[Processor]
    if as_json:
        renderer = [
            # Without locals: a traceback line stays short and carries no payloads.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)),
            structlog.processors.JSONRenderer(serializer=_dumps),
        ]
    else:
        renderer = [structlog.dev.ConsoleRenderer(colors=out.isatty())]
    structlog.configure(
        processors=[*shared, *renderer],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=cache,
    )
    _route_standard_logging(out, max(LEVELS[level], logging.WARNING), shared, renderer)


def _route_standard_logging(out: TextIO, level: int, shared: list[Processor],
                            renderer: list[Processor]) -> None:
    """The standard library's loggers (websockets, uvicorn, asyncio, warnings) render
    through the same processors, so a traceback of theirs is one JSON line too."""
    handler = logging.StreamHandler(out)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    ))
    logging.basicConfig(level=level, handlers=[handler], force=True)
