"""The AWS backend against the stand-in, where a review found it wrong: lost replies of create calls, an interrupted
close, what cleanup takes, what created() lists, a tail without REPORT, a deleted function's logs, an init error's
cold flag, dual-stack endpoints, and the working folder."""

from __future__ import annotations

import glob
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

import lambdalab.aws
from lambdalab.aws.standin import StandIn
from lambdalab.errors import LabClosedError, TooManyRequestsException

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

CELL = "def handler(event, context):\n    return event\n"


def _read_timeout_once(client: Any, operation: str) -> list[str]:
    """After ``operation``'s first answer arrived, raise a read timeout instead (the service did the work)."""
    from botocore.exceptions import ReadTimeoutError

    seen: list[str] = []

    def lose(**kwargs: Any) -> None:
        if not seen:
            seen.append(operation)
            raise ReadTimeoutError(endpoint_url="x")

    client.meta.events.register(f"after-call.{client.meta.service_model.service_id.hyphenize()}.{operation}", lose)
    return seen


def _send_then_time_out_once(client: Any, operation: str) -> list[str]:
    """Send ``operation``'s first request, drop its reply and raise a read timeout: botocore's retry sends it again."""
    from botocore.exceptions import ReadTimeoutError
    from botocore.httpsession import URLLib3Session

    seen: list[str] = []

    def lose(request: Any, **kwargs: Any) -> None:
        if not seen:
            seen.append(operation)
            URLLib3Session().send(request)  # the service makes it; its answer is lost
            raise ReadTimeoutError(endpoint_url=request.url)

    client.meta.events.register(f"before-send.{client.meta.service_model.service_id.hyphenize()}.{operation}", lose)
    return seen


# -- 1: a create whose reply was lost ---------------------------------------------------------------------------
@pytest.mark.parametrize("lose", [_read_timeout_once, _send_then_time_out_once])
def test_a_function_whose_create_reply_was_lost_is_the_labs_and_close_deletes_it(aws_env: StandIn, lose: Any) -> None:
    lab = lambdalab.aws.Lab(logs_wait_s=5.0)
    try:
        seen = lose(lab.clients.lambda_, "CreateFunction")
        fn = lab.create_function("lost", CELL)
        assert seen == ["CreateFunction"]
        assert fn.invoke({"x": 1}).payload == {"x": 1}
        assert fn.arn() in lab.created()
    finally:
        lab.close(delete=True)
    assert lambdalab.aws.cleanup(lab_id=lab.id, dry_run=True) == []
    assert aws_env.local is not None and "lambdalab-lost" not in aws_env.local.functions()


def test_a_role_and_a_layer_whose_reply_was_lost_are_recorded(aws_env: StandIn, tmp_path: Path) -> None:
    layer = tmp_path / "shared"
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "shared.py").write_text("X = 1\n")
    lab = lambdalab.aws.Lab(logs_wait_s=5.0)
    try:
        roles_seen = _send_then_time_out_once(lab.clients.iam, "CreateRole")
        assert lab.create_function("plain", CELL).invoke(1).payload == 1
        assert roles_seen == ["CreateRole"]  # IAM made it, its reply was lost, the retry met EntityAlreadyExists
        assert lab.role_arn in lab.created()
        layers_seen = _read_timeout_once(lab.clients.lambda_, "PublishLayerVersion")
        with pytest.raises(Exception, match="Read timeout"):
            lab.create_function("layered", CELL, layers=[layer])
        assert layers_seen == ["PublishLayerVersion"]
        assert any(f":layer:lambdalab-{lab.id}-shared:1" in arn for arn in lab.created())  # published, reply lost
        fn = lab.create_function("layered", "from shared import X\ndef handler(e, c):\n    return X\n", layers=[layer])
        assert fn.invoke().payload == 1
    finally:
        lab.close(delete=True)
    assert lambdalab.aws.cleanup(lab_id=lab.id, dry_run=True) == []


def test_a_function_of_the_same_name_from_another_lab_is_still_refused(aws_env: StandIn) -> None:
    with lambdalab.aws.Lab() as first, lambdalab.aws.Lab() as second:
        first.create_function("taken", CELL)
        with pytest.raises(lambdalab.errors.ConfigError, match="already exists.*a Lab left open"):
            second.create_function("taken", CELL)
        assert not any(":function:" in ident for ident in second.created())


# -- 2: an interrupted close ---------------------------------------------------------------------------------
def test_an_interrupted_close_does_not_wait_for_invokes_and_can_be_retried(aws_env: StandIn) -> None:
    lab = lambdalab.aws.Lab(logs_wait_s=5.0)
    fn = lab.create_function("slow", "import time\ndef handler(event, context):\n    time.sleep(4)\n", timeout_s=10)
    fn.invoke(invocation_type="DryRun")
    running = fn.submit()
    time.sleep(0.5)  # the invoke is under way
    interrupted: list[str] = []

    def interrupt(**kwargs: Any) -> None:
        if not interrupted:
            interrupted.append("DeleteFunction")
            raise KeyboardInterrupt

    lab.clients.lambda_.meta.events.register("before-call.lambda.DeleteFunction", interrupt)
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        lab.close()
    assert time.monotonic() - began < 2.0  # not held up by the invoke under way
    assert not lab.closed and fn.arn() in lab.created()
    with pytest.raises(LabClosedError):
        fn.invoke()  # nothing new starts once close began
    lab.close()
    assert lab.closed and lab.created() == []
    assert lambdalab.aws.cleanup(lab_id=lab.id, dry_run=True) == []
    running.exception(timeout=30)  # it ended (its function was deleted under it)


def test_a_failed_close_names_the_full_cleanup_command(aws_env: StandIn) -> None:
    lab = lambdalab.aws.Lab()
    lab.create_function("kept", CELL)

    def refuse(**kwargs: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DeleteFunction")

    lab.clients.lambda_.meta.events.register("before-call.lambda.DeleteFunction", refuse)
    with pytest.raises(lambdalab.errors.LambdaLabError) as raised:
        lab.close()
    assert f"lambdalab aws cleanup --lab {lab.id} --prefix lambdalab- --region us-east-1" in str(raised.value)
    assert not lab.closed
    lab.clients.lambda_.meta.events.unregister("before-call.lambda.DeleteFunction", refuse)
    lab.close()
    assert lab.closed and lambdalab.aws.cleanup(lab_id=lab.id, dry_run=True) == []


# -- 3, 4: what cleanup takes --------------------------------------------------------------------------------
def test_cleanup_of_one_lab_or_one_prefix_takes_nothing_of_others(aws_env: StandIn) -> None:
    team = lambdalab.aws.Lab(prefix="lambdalab-team-")
    mine = lambdalab.aws.Lab()
    other = lambdalab.aws.Lab()
    try:
        team.create_function("a", CELL).invoke()
        mine.create_function("b", CELL).invoke()
        other.create_function("gone", CELL).invoke()
        other.delete_function("gone")  # its log group stays: an orphan nobody's tag names
        listed = lambdalab.aws.cleanup(dry_run=True)  # the default prefix: not lambdalab-team-'s
        assert not any("lambdalab-team-" in line for line in listed)
        assert "log-group /aws/lambda/lambdalab-b" in listed
        by_lab = lambdalab.aws.cleanup(lab_id=mine.id, dry_run=True)
        assert sorted(line.split()[0] for line in by_lab) == ["function", "log-group", "role"]
        assert "log-group /aws/lambda/lambdalab-b" in by_lab
        team_lines = lambdalab.aws.cleanup(prefix="lambdalab-team-", dry_run=True)
        assert sorted(line.split()[0] for line in team_lines) == ["function", "log-group", "role"]
        with pytest.raises(lambdalab.errors.ConfigError, match="orphan"):
            lambdalab.aws.cleanup(lab_id=mine.id, orphans=True, dry_run=True)
    finally:
        for lab in (team, mine, other):
            lab.close()
    assert lambdalab.aws.cleanup(dry_run=True) == [] and lambdalab.aws.cleanup(prefix="lambdalab-team-") == []


def test_orphan_log_groups_are_listed_only_when_asked(aws_env: StandIn) -> None:
    lab = lambdalab.aws.Lab()
    try:
        lab.create_function("orphaned", CELL).invoke()
        logs = boto3.client("logs", region_name="us-east-1")
        lab.clients.lambda_.delete_function(FunctionName="lambdalab-orphaned")  # behind the Lab's back
        groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
        present = "/aws/lambda/lambdalab-orphaned" in groups  # the stand-in drops a deleted function's group
        assert lambdalab.aws.cleanup(lab_id=lab.id, dry_run=True) == [f"role {lab.role_arn}"]
        orphans = lambdalab.aws.cleanup(orphans=True, dry_run=True)
        assert ("log-group /aws/lambda/lambdalab-orphaned" in orphans) == present
    finally:
        lab.close()


# -- 6: created() ------------------------------------------------------------------------------------------
def test_created_lists_a_log_group_only_once_an_invocation_ran(aws_lab: lambdalab.aws.Lab) -> None:
    fn = aws_lab.create_function("quiet", CELL, reserved_concurrency=0)
    group = "/aws/lambda/lambdalab-quiet"
    assert fn.invoke(invocation_type="DryRun") is None
    with pytest.raises(TooManyRequestsException):
        fn.invoke()
    assert group not in aws_lab.created()
    fn.set_reserved_concurrency(None)
    fn.invoke()
    assert aws_lab.created()[-1] == group


# -- 7: no REPORT in the tail --------------------------------------------------------------------------------
def test_a_system_log_level_above_info_keeps_the_payload(aws_lab: lambdalab.aws.Lab) -> None:
    fn = aws_lab.create_function("warned", CELL, log_format="JSON", system_log_level="WARN")
    result = fn.invoke({"x": 1})
    assert result.payload == {"x": 1} and result.status == "success"
    assert result.duration_ms != result.duration_ms  # NaN: not in any line Lambda wrote
    began = time.monotonic()
    frame = aws_lab.invocations()
    assert time.monotonic() - began < 2.0  # no REPORT is waited for that will never come
    assert list(frame["request_id"]) == [result.request_id] and frame["duration_ms"].isna().all()
    assert fn.estimate_cost(1) == pytest.approx(fn.estimate_cost(1, duration_ms=3000.0))  # its timeout: unknown


# -- 9: a deleted function's logs ---------------------------------------------------------------------------
def test_a_deleted_functions_records_spans_and_logs_are_read_at_once(aws_lab: lambdalab.aws.Lab) -> None:
    fn = aws_lab.create_function("kept-logs", "def handler(event, context):\n    print('said', event)\n    return 1\n")
    first, second = fn.invoke(1), fn.invoke(2)
    stream = aws_lab.log_streams("kept-logs")
    aws_lab.delete_function("kept-logs")
    began = time.monotonic()
    frame, spans = aws_lab.invocations(), aws_lab.spans()
    assert time.monotonic() - began < 2.0
    assert list(frame["request_id"]) == [first.request_id, second.request_id]
    assert list(frame["environment_id"]) == stream * 2 and list(frame["cold"]) == [True, False]
    assert sorted(spans["phase"]) == ["init", "invoke", "invoke"]
    assert "said 2" in aws_lab.logs("kept-logs") and aws_lab.log_streams("kept-logs") == stream


# -- 13: an init error's cold flag ----------------------------------------------------------------------------
def test_an_init_errors_result_says_what_the_logs_say(aws_lab: lambdalab.aws.Lab) -> None:
    fn = aws_lab.create_function("broken", "raise RuntimeError('init')\ndef handler(e, c):\n    return 1\n")
    results = [fn.invoke(), fn.invoke()]
    assert all(r.error["errorType"] == "RuntimeError" for r in results)  # the payload: the runtime's report
    frame = aws_lab.invocations()
    assert [r.cold for r in results] == list(frame["cold"]) == [True, True]
    assert [r.record.init_suppressed for r in results] == list(frame["init_suppressed"])
    assert [r.record.error_type for r in results] == list(frame["error_type"]) == ["Runtime.Unknown"] * 2
    assert [r.record.reset for r in results] == list(frame["reset"]) == [True, True]
    assert list(aws_lab.spans()["phase"]) == ["init", "init", "init"]


# -- 16: dual-stack endpoints --------------------------------------------------------------------------------
def test_a_dual_stack_endpoint_is_aws_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL_LOGS", "AWS_ENDPOINT_URL_IAM",
                 "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_PROFILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", "true")
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="eu-west-1")
    lab = lambdalab.aws.Lab(session)  # makes no call
    try:
        assert lab.clients.lambda_.meta.endpoint_url == "https://lambda.eu-west-1.api.aws"
        assert lab.clients.on_aws
    finally:
        lab.close()


# -- the working folder ----------------------------------------------------------------------------------------
def test_a_lab_keeps_no_working_folder_between_builds(aws_env: StandIn) -> None:
    lab = lambdalab.aws.Lab()
    pattern = str(Path(tempfile.gettempdir()) / f"lambdalab-aws-{lab.id}*")
    try:
        assert glob.glob(pattern) == []  # none made with the Lab: a process that ends unclosed leaves nothing
        lab.create_function("built", CELL).invoke()
        assert glob.glob(pattern) == []
    finally:
        lab.close()
    assert glob.glob(pattern) == []


def test_close_from_another_thread_while_submitting_refuses_new_work(aws_lab: lambdalab.aws.Lab) -> None:
    fn = aws_lab.create_function("busy", CELL)
    closer = threading.Thread(target=aws_lab.close)
    closer.start()
    closer.join(timeout=30)
    with pytest.raises(LabClosedError):
        fn.submit(1)
