"""What the engine tests share: Lambda's REPORT line and the checks of a cold and a warm one."""

from __future__ import annotations

import re
from typing import Any

REPORT = re.compile(
    r"^REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
    r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\t(Init Duration: \d+\.\d\d ms\t)?$"
)


def assert_report_lines(cold: Any, warm: Any, min_memory_mb: int = 5) -> None:
    """START, END and REPORT exactly as Lambda writes them; Init Duration on the cold one only; Max Memory Used
    the measured peak (at least ``min_memory_mb``), never the configured 128 MB."""
    for result in (cold, warm):
        lines = result.log.splitlines()
        assert lines[0] == f"START RequestId: {result.request_id} Version: $LATEST"
        assert lines[-2] == f"END RequestId: {result.request_id}"
        match = REPORT.match(lines[-1])
        assert match and match["id"] == result.request_id, repr(lines[-1])
        assert lines[-1] == result.report
    assert "Init Duration" in cold.report and "Init Duration" not in warm.report
    assert f"Duration: {warm.duration_ms:.2f} ms\t" in warm.report
    assert f"Max Memory Used: {warm.max_memory_used_mb} MB" in warm.report
    assert min_memory_mb <= warm.max_memory_used_mb < 128
