"""SnapStart in the notebook: ``%%lambda NAME --snap-start`` and a result card of a restored environment (a
``restore`` stretch in the palette's colour, Restore Duration and Billed Restore Duration, no Init)."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError

from lambdalab.core.records import InvocationRecord, Status
from lambdalab.jupyter import card_parts, display, phasebar
from lambdalab.results import InvocationResult
from lambdalab.viz.colours import OUTCOME_COLOURS, PHASE_COLOURS

OK = "def handler(event, context):\n    return 1\n"


def _result(*, restore_ms: float | None, init_ms: float | None) -> InvocationResult:
    record = InvocationRecord(
        request_id="7f1c9a3e-0000-4000-8000-000000000001", function="snappy", version="1", environment_id="e" * 32,
        cold=True, init_duration_ms=init_ms, init_suppressed=False, duration_ms=12.5, billed_duration_ms=13,
        memory_size_mb=128, max_memory_used_mb=40, status=Status.SUCCESS, error_type=None, start=100.0,
        end=100.0125, submitted=100.0 - (restore_ms or init_ms or 0.0) / 1000.0, reset=False,
        restore_duration_ms=restore_ms, billed_restore_duration_ms=4 if restore_ms is not None else 0,
    )  # fmt: skip
    return InvocationResult(1, None, b"1", record, None, (0, 0))


def test_a_restored_result_card_shows_a_restore_phase_and_no_init() -> None:
    result = _result(restore_ms=3.25, init_ms=None)
    stretches = phasebar.segments(result)
    assert [s.phase for s in stretches] == ["restore", "invoke"]
    restore = stretches[0]
    assert restore.end == pytest.approx(100.0) and (restore.end - restore.start) * 1000 == pytest.approx(3.25)
    card = display.result_html(result, scale_ms=100)
    assert "class='phase-restore'" in card and f"fill='{PHASE_COLOURS['restore']}'" in card
    assert PHASE_COLOURS["restore"] != PHASE_COLOURS["init"]
    assert "Restore" in card and "3.25 ms" in card
    assert "Billed restore" in card and "4 ms" in card
    assert ">Init<" not in card and "phase-init" not in card and "profile_init" not in card
    assert "Billed Restore Duration" in card  # the key says what is billed on top


def test_a_restored_result_is_badged_restored_not_cold() -> None:
    head = card_parts.head(_result(restore_ms=3.25, init_ms=None))
    assert f"background:{OUTCOME_COLOURS['restored']}" in head and ">restored</span>" in head
    assert ">cold</span>" not in head and f"background:{OUTCOME_COLOURS['cold']}" not in head
    assert OUTCOME_COLOURS["restored"] != OUTCOME_COLOURS["cold"]
    cold = card_parts.head(_result(restore_ms=None, init_ms=80.0))
    assert ">cold</span>" in cold and f"background:{OUTCOME_COLOURS['cold']}" in cold and "restored" not in cold
    assert ">restored</span>" in display.result_html(_result(restore_ms=3.25, init_ms=None), scale_ms=100)


def test_a_cold_card_is_unchanged() -> None:
    card = display.result_html(_result(restore_ms=None, init_ms=80.0), scale_ms=100)
    assert "phase-init" in card and "phase-restore" not in card and "Billed restore" not in card


@pytest.mark.slow
def test_snap_start_flag_of_the_cell_magic(ip: Any) -> None:
    fn = ip.run_cell_magic("lambda", "snappy --snap-start", OK)
    assert fn.config.snap_start is True
    assert fn.version_info().snap_start == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    fn = ip.run_cell_magic("lambda", "snappy", OK)  # the cell run again without it: back to the default
    assert fn.config.snap_start is False
    ip.run_line_magic("lambda", "config snappy --snap-start")
    assert fn.config.snap_start is True
    ip.run_line_magic("lambda", "config snappy --memory 256")  # left out: unchanged
    assert fn.config.snap_start is True and fn.config.memory_mb == 256
    ip.run_line_magic("lambda", "config snappy --no-snap-start")
    assert fn.config.snap_start is False
    with pytest.raises(UsageError, match="SnapStart does not support provisioned concurrency"):
        ip.run_cell_magic("lambda", "other --snap-start --provisioned 1", OK)
    with pytest.raises(UsageError, match="is not supported for SnapStart enabled functions"):
        ip.run_cell_magic("lambda", "node --snap-start --runtime nodejs", "exports.handler = async () => 1;\n")


@pytest.mark.slow
def test_the_card_of_a_real_restore(ip: Any, html: Any) -> None:
    fn = ip.run_cell_magic("lambda", "restored --snap-start", "import time\ntime.sleep(0.2)\n" + OK)
    assert "SnapStart" in html(fn) and "published versions" in html(fn)
    version = fn.publish(timeout_s=30)
    if fn.version_info(version).snapshot == "none":
        pytest.skip("SnapStart restores need the launcher, v1 cgroups and Linux 6.15+ (versions start cold here)")
    result = fn.invoke({}, qualifier=version)
    assert result.restore_duration_ms is not None and result.init_duration_ms is None
    card = html(result)
    assert "phase-restore" in card and "phase-init" not in card and "Billed restore" in card
    assert ">restored</span>" in card and ">cold</span>" not in card
    assert f"{result.restore_duration_ms:.2f} ms" in card
