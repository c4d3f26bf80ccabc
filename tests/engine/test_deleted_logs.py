"""A deleted function's logs stay readable, as its log group stays on Lambda (Lab.delete_function's promise)."""

from __future__ import annotations

import pytest

import lambdalab

pytestmark = pytest.mark.slow


def test_a_deleted_functions_logs_and_events_stay_and_an_unknown_name_is_refused() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("gone", "def handler(event, context):\n    print('said before')\n    return 1\n")
        request = fn.invoke({}).request_id
        lab.delete_function("gone")
        assert "gone" not in lab.functions() and lab.logged_functions() == ["gone"]
        text = lab.logs("gone")
        assert f"REPORT RequestId: {request}" in text and "said before" in text
        assert any(e["message"].startswith(f"REPORT RequestId: {request}") for e in lab.log_events("gone"))
        with pytest.raises(lambdalab.UnknownFunctionError):
            lab.logs("never-made")
        with pytest.raises(lambdalab.UnknownFunctionError):
            lab.log_events("never-made")
