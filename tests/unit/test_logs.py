"""The log stream (csms.logs): one JSON object a line, whoever logs."""

from __future__ import annotations

import io
import logging
import os
import socket
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import structlog

from csms.config import load_settings
from csms.logs import configure_logging


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging("info", "json", stream=out, cache=False)
    yield out
    configure_logging("warning", "json", stream=sys.__stderr__, cache=False)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


class TestTracebacks:
    def test_a_logged_exception_carries_no_locals(self, stream: io.StringIO) -> None:
        """A traceback is rendered as data without the frames' local variables (a payload
        in a local made each line ~10 kB)."""
        payload = {"value": "x" * 5000}
        try:
            raise ValueError(str(len(payload)))
        except ValueError:
            structlog.get_logger("t").exception("boom")
        [line] = lines(stream)
        assert "boom" == line["event"]
        [exception] = line["exception"]
        frames = exception["frames"]
        assert frames
        assert [] == [frame for frame in frames if "locals" in frame]


class TestStandardLibraryLoggers:
    @pytest.mark.parametrize("name", ["websockets.server", "uvicorn.error", "asyncio"])
    def test_their_tracebacks_are_json_lines(self, stream: io.StringIO, name: str) -> None:
        """websockets' and uvicorn's own error logs (with a traceback) come out as one JSON
        object a line, with the logger's name, like every structlog event."""
        try:
            raise RuntimeError("in a library")
        except RuntimeError:
            logging.getLogger(name).exception("process_request failed")
        [line] = lines(stream)
        assert "process_request failed" == line["event"]
        assert name == line["logger"]
        assert "error" == line["level"]
        assert "RuntimeError" == line["exception"][0]["exc_type"]

    def test_below_warning_they_stay_quiet(self, stream: io.StringIO) -> None:
        """Their info records are not shown even at info (only warnings and above)."""
        logging.getLogger("websockets.server").info("connection open")
        assert [] == lines(stream)


class TestNodeName:
    def test_every_line_names_the_node_ours_and_third_partys(self) -> None:
        out = io.StringIO()
        configure_logging("info", "json", stream=out, cache=False, node="csms-a")
        try:
            structlog.get_logger("t").info("ours")
            logging.getLogger("websockets.server").warning("theirs")
        finally:
            configure_logging("warning", "json", stream=sys.__stderr__, cache=False)
        assert [("ours", "csms-a"), ("theirs", "csms-a")] == [
            (line["event"], line["node"]) for line in lines(out)]

    def test_the_default_name_is_host_and_process(self) -> None:
        assert f"{socket.gethostname()}-{os.getpid()}" == load_settings(None).cluster.node()
        assert "n1" == load_settings(None, cluster={"node_name": "n1"}).cluster.node()
