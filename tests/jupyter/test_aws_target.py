"""The magics, load runs, the panel and charts on the AWS target, end to end through the stand-in.

Everything here goes through a real IPython shell and ``lambdalab.aws.StandIn`` (a local Lab's endpoint for
Lambda and CloudWatch Logs, moto's IAM on loopback): boto3 is pointed at them by its own environment variables,
so no request can leave this machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError

import lambdalab
import lambdalab.jupyter
from lambdalab import viz
from lambdalab.jupyter import session, targets

pytest.importorskip("moto")
pytestmark = pytest.mark.slow

COUNTER = """count = 0

def handler(event, context):
    global count
    count += 1
    print("served", count)
    return {"where": "aws", "count": count, "event": event}
"""


@pytest.fixture
def aws(ip: Any) -> Iterator[Any]:
    """A stand-in for AWS; the kernel's Labs (the AWS one with delete=True) close before it stops."""
    from lambdalab.aws import StandIn

    with StandIn() as stand_in:
        try:
            yield stand_in
        finally:
            lambdalab.jupyter.close_default_lab()


def out(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


def test_cells_on_this_machine_load_no_aws_code() -> None:
    """Nothing reaches AWS unless the user names the target: a kernel that never does imports neither
    lambdalab.aws nor boto3 (a separate process: this one has imported them for the other tests)."""
    code = textwrap.dedent(
        """
        import sys
        from IPython.testing.globalipapp import get_ipython
        import lambdalab.jupyter
        ip = get_ipython()
        ip.run_line_magic("load_ext", "lambdalab")
        ip.run_cell_magic("lambda", "h", "def handler(e, c):\\n    return 1\\n")
        ip.run_line_magic("lambda", "invoke h")
        ip.run_line_magic("lambda", "list")
        ip.run_line_magic("lambda", "target")
        lambdalab.jupyter.close_default_lab()
        print(sorted(m for m in sys.modules if m.startswith(("lambdalab.aws", "boto3", "botocore"))))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == ["local", "[]"]


def test_target_is_local_until_named_and_nothing_is_made_before_a_deploy(
    ip: Any, aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    out(capsys)
    ip.run_line_magic("lambda", "target")
    assert out(capsys) == "local\n"
    ip.run_cell_magic("lambda", "plain", "def handler(e, c):\n    return 1\n")
    assert session.existing_aws_lab() is None  # a local cell makes no AWS Lab
    ip.run_line_magic("lambda", "target aws --region eu-west-1 --prefix t18-")
    assert out(capsys).startswith("target: aws (eu-west-1, prefix t18-): later %%lambda cells deploy to AWS Lambda")
    ip.run_line_magic("lambda", "target")
    assert out(capsys) == "aws (eu-west-1, prefix t18-)\n"
    assert session.existing_aws_lab() is None  # still nothing: the Lab is made at the first deploy
    ip.run_line_magic("lambda", "target local")
    ip.run_line_magic("lambda", "target")
    assert out(capsys).endswith("\nlocal\n")
    with pytest.raises(UsageError, match="--region are settings of the aws target"):
        ip.run_line_magic("lambda", "target local --region us-west-2")
    with pytest.raises(UsageError):
        ip.run_line_magic("lambda", "target mars")
    assert "%lambda target" in ip.find_line_magic("lambda").__doc__
    assert "--on" in ip.find_cell_magic("lambda").__doc__


def test_one_cell_on_aws_then_here_and_the_subcommands_follow_the_last_deploy(
    ip: Any, aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    fn = ip.run_cell_magic("lambda", "hello --on aws --memory 256 --env GREETING=hi", COUNTER)
    assert isinstance(fn, lambdalab.aws.Function) and ip.user_ns["hello"] is fn
    assert fn.remote_name == "lambdalab-hello" and fn.config["MemorySize"] == 256
    assert fn.config["Environment"]["Variables"] == {"GREETING": "hi"}
    remote = session.existing_aws_lab()
    assert remote is not None and remote.functions() == ["hello"]
    assert "lambdalab-hello" in aws.local.functions()  # it went through the stand-in's Lambda API

    cold = ip.run_line_magic("lambda", 'invoke hello {"n": 1}')
    warm = ip.run_line_magic("lambda", "invoke hello")
    assert isinstance(cold, lambdalab.aws.RemoteResult)
    assert cold.payload == {"where": "aws", "count": 1, "event": {"n": 1}} and cold.cold
    assert warm.payload["count"] == 2 and not warm.cold

    here = ip.run_cell_magic("lambda", "hello --on local", "def handler(e, c):\n    return {'where': 'local'}\n")
    assert isinstance(here, lambdalab.Function)
    assert ip.run_line_magic("lambda", "invoke hello").payload == {"where": "local"}
    assert len(ip.run_line_magic("lambda", "envs hello")) == 1  # the local one's environments
    table = ip.run_line_magic("lambda", "list")
    assert list(zip(table["name"], table["target"], strict=True)) == [("hello", "local"), ("hello", "aws")]
    assert list(table["memory_mb"]) == [128, 256] and table["environments"].isna().tolist() == [False, True]

    ip.run_cell_magic("lambda", "hello --on aws --memory 256", COUNTER)  # redeployed there: the last deploy
    again = ip.run_line_magic("lambda", "invoke hello")
    assert again.payload["where"] == "aws" and again.payload["count"] == 1 and again.cold  # new code: cold
    out(capsys)
    ip.run_line_magic("lambda", "logs hello")
    logs = out(capsys)
    assert logs.count("START RequestId") == 3 and "served 2" in logs and "Init Duration" in logs
    streams = fn.log_streams()
    assert len(streams) == 2 and all(re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", s) for s in streams)
    ip.run_line_magic("lambda", f"logs hello --env {streams[0].partition(']')[2][:8]} --tail 1")
    last = out(capsys)
    assert last.startswith("REPORT RequestId") and last.count("REPORT") == 1
    with pytest.raises(UsageError, match="environments are not visible on AWS Lambda"):
        ip.run_line_magic("lambda", "envs hello")
    with pytest.raises(UsageError, match="runs on AWS Lambda: no call ends its environments"):
        ip.run_line_magic("lambda", "kill hello")

    changed = ip.run_line_magic("lambda", "config hello --memory 512 --reserved 5")
    assert changed is fn and fn.config["MemorySize"] == 512
    with pytest.raises(UsageError, match="--provisioned, --freeze/--no-freeze are not available on AWS Lambda"):
        ip.run_line_magic("lambda", "config hello --provisioned 1 --no-freeze")

    lab_id = remote.id
    assert remote.created()
    lambdalab.jupyter.close_default_lab()  # the kernel's Lab closes: the AWS one with delete=True
    assert remote.closed and remote.created() == []
    assert lambdalab.aws.cleanup(lab_id=lab_id, dry_run=True) == []
    assert session.target() == "local"


def test_target_aws_sends_later_cells_there_and_local_only_options_are_refused(ip: Any, aws: Any) -> None:
    with pytest.raises(UsageError, match=r"--keep-alive, --no-freeze are not available on AWS Lambda"):
        ip.run_cell_magic("lambda", "f --on aws --keep-alive 5 --no-freeze", COUNTER)
    assert session.existing_aws_lab() is None  # refused before anything was made
    ip.run_line_magic("lambda", "target aws --prefix t18-")
    first = ip.run_cell_magic("lambda", "first", COUNTER)
    second = ip.run_cell_magic("lambda", "second --on local", COUNTER)
    assert targets.is_remote(first) and first.remote_name == "t18-first"
    assert not targets.is_remote(second)
    with pytest.raises(UsageError, match="--inherit-packages is not available"):
        ip.run_cell_magic("lambda", "third --inherit-packages", COUNTER)
    invoked = ip.run_cell_magic("lambda", "invoked --invoke '{\"a\": 1}'", COUNTER)  # the target's: aws
    assert isinstance(invoked, lambdalab.aws.RemoteResult) and invoked.payload["event"] == {"a": 1}
    ip.run_line_magic("lambda", "target local")
    assert not targets.is_remote(ip.run_cell_magic("lambda", "fourth", COUNTER))
    with pytest.raises(UsageError, match="already holds first, invoked with another prefix"):
        ip.run_line_magic("lambda", "target aws --prefix other-")
    assert ip.run_line_magic("lambda", "invoke first").payload["where"] == "aws"


def test_a_load_on_aws_shows_its_cost_and_above_the_threshold_needs_confirm(
    ip: Any, aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # 10 GB for up to 900 s, never invoked: each request is priced at its timeout, ~$0.15 (the most it can cost)
    big = ip.run_cell_magic("lambda", "big --on aws --memory 10240 --timeout 900", COUNTER)
    out(capsys)
    with pytest.raises(UsageError, match=r"estimated at ~\$1\.5\d.*confirm=True"):
        ip.run_line_magic("lambda", "load big --count 10 --rate 50")
    assert "Planned: ~10 requests, ~$1.5" in out(capsys)
    assert aws.local.invocations().empty  # refused before a single request was sent
    report = ip.run_line_magic("lambda", "load big --count 10 --rate 50 --confirm")
    assert report.summary.requests == 10 and report.summary.errors == 0
    assert "Planned: ~10 requests" in out(capsys)
    assert len(aws.local.invocations()) == 10
    assert big.estimate_cost(10) < 0.01  # priced from its billed durations now, not its timeout


def test_the_panel_on_aws_gates_the_cost_and_charts_from_the_logs(ip: Any, aws: Any) -> None:
    fn = ip.run_cell_magic("lambda", "paneled --on aws --memory 10240 --timeout 900", COUNTER)
    panel = ip.run_line_magic("lambda", "panel paneled --rate 20 --duration 1")
    assert panel.remote
    assert list(panel.figures) == ["cold_starts", "latency_over_time", "reuse", "concurrency", "timeline"]
    assert re.search(r"Planned: ~20 requests, ~\$3\.0\d", panel.cost.line.value)
    assert panel.controls["reserved"].disabled and panel.controls["memory"].value == 10240
    board = panel.board
    assert board is not None and board.remote and not board.live and board.error == targets.NOT_VISIBLE
    alone = ip.run_line_magic("lambda", "board paneled")
    assert alone.remote and not alone.live and alone.error == targets.NOT_VISIBLE
    alone.refresh()
    assert alone.refreshes == 0 and len(alone.tiles) == 0
    panel.start_button.click()  # above $1: refused until the box is ticked
    assert panel.handle is None and "tick Confirm cost" in panel.status.value
    panel.cost.confirm.value = True
    panel.start()
    report = panel.result(timeout=60)
    assert report.summary.requests == 20 and report.summary.errors == 0
    assert board.refreshes == 0 and not board.live  # never polled
    spans, snapshot = panel.shown
    assert set(spans["phase"]) == {"init", "invoke"}  # from CloudWatch Logs, read at the end
    streams = set(fn.log_streams())
    assert set(snapshot.invocations["environment_id"]) <= streams  # each row's environment: its log stream
    reuse = panel.figures["reuse"]
    assert sum(len(t.x) for t in reuse.data if t.name == "cold") == len(set(snapshot.invocations["environment_id"]))
    drawn = {t.name: len(t.x) for t in panel.figures["timeline"].data if t.x is not None}
    assert drawn["invoke"] > 0 and drawn["init"] > 0 and drawn["frozen"] == 0  # what AWS shows, nothing invented


def test_compare_this_machine_with_the_aws_function(ip: Any, aws: Any) -> None:
    here = ip.run_cell_magic("lambda", "twin --on local", COUNTER)
    there = ip.run_cell_magic("lambda", "twin --on aws", COUNTER)
    for fn in (here, there):
        fn.invoke({})
        fn.invoke({})
    remote_frame = there.invocations()
    assert list(remote_frame.columns) == list(here.lab.invocations().columns)
    fig = viz.compare(here, there, kind="latency")
    assert [a.text for a in fig.layout.annotations] == ["this machine", "AWS Lambda (us-east-1)"]
    assert fig.layout.title.subtitle.text.startswith("this machine: 2 requests, 1 cold")
    assert "AWS Lambda: 2 requests, 1 cold" in fig.layout.title.subtitle.text
    assert tuple(fig.layout.yaxis.range) == tuple(fig.layout.yaxis2.range)


def test_aws_refusals_are_one_line_usage_errors() -> None:
    from botocore.exceptions import NoCredentialsError

    from lambdalab.errors import InvokeError

    with pytest.raises(UsageError, match="^AWS: Unable to locate credentials$"), targets.remote_errors():
        raise NoCredentialsError()
    denied = InvokeError("AccessDeniedException: User is not authorized to perform: lambda:CreateFunction")
    denied.code = "AccessDeniedException"
    with pytest.raises(UsageError, match="^AWS Lambda: AccessDeniedException: User is not authorized"):
        with targets.remote_errors():
            raise denied
    other = InvokeError("ServiceException: try again")
    other.code = "ServiceException"
    with pytest.raises(InvokeError), targets.remote_errors():  # not the user's to fix: the error as it is
        raise other
