"""Nothing reaches AWS unless asked, costs are estimated and confirmed, credentials are never written."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lambdalab.aws
from lambdalab.aws import cost
from lambdalab.aws.function import Function
from lambdalab.aws.package import Code
from lambdalab.aws.standin import StandIn
from lambdalab.load.report import PRICES

ROOT = Path(__file__).resolve().parents[2]
# sockets made and connections tried in the child process from this point on (a connection fails there)
WATCH = textwrap.dedent(
    """
    import socket
    opened, connected = [], []
    class Watched(socket.socket):
        def __init__(self, *args, **kwargs):
            opened.append(args)
            super().__init__(*args, **kwargs)
        def connect(self, address):
            connected.append(address)
            raise OSError("no connection may be made here")
        connect_ex = connect
    socket.socket = Watched
    """
)


def _child(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WATCH + textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_importing_lambdalab_aws_or_making_a_lab_makes_no_call() -> None:
    done = _child(
        """
        import lambdalab.aws
        assert opened == [], opened  # importing opens no socket at all
        lab = lambdalab.aws.Lab(region="eu-west-1")
        assert lab.created() == [] and lab.region == "eu-west-1" and len(lab.id) == 8
        lab.close()
        assert connected == [], connected  # making (and closing) a Lab that made nothing calls nothing
        print("quiet")
        """,
        {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-secret", "AWS_EC2_METADATA_DISABLED": "1"},
    )
    assert done.returncode == 0 and done.stdout.strip() == "quiet", done.stderr[-2000:]


def test_the_estimate_is_requests_plus_billed_gb_seconds_at_list_prices() -> None:
    price = PRICES["x86_64"]
    assert cost.estimate_usd(1_000_000, 128, 100.0) == pytest.approx(0.20 + 1_000_000 * 0.125 * 0.1 * price["gb_s"])
    assert cost.estimate_usd(1000, 1024, 0.4) == pytest.approx(
        1000 * price["per_request"] + 1000 * 0.001 * price["gb_s"]
    )
    arm = cost.estimate_usd(10, 2048, 1000.0, "arm64")
    assert arm == pytest.approx(10 * PRICES["arm64"]["per_request"] + 10 * 2 * PRICES["arm64"]["gb_s"])
    line = cost.estimate_line(12_000, 3.456)
    assert line.startswith("Planned: ~12,000 requests, ~$3.46 (estimated at list prices")


def _offline_function(memory_mb: int = 1024, timeout_s: int = 10) -> Function:
    lab = lambdalab.aws.Lab(confirm_above_usd=1.0)  # makes no call (test above)
    lab.close()
    config = {"FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:lambdalab-f", "MemorySize": memory_mb,
              "Timeout": timeout_s, "Architectures": ["x86_64"]}  # fmt: skip
    return Function(lab, "f", {}, Code(source="x"), config)


def test_a_function_estimates_from_its_timeout_until_it_has_records() -> None:
    fn = _offline_function()
    assert fn.estimate_cost(1000) == pytest.approx(cost.estimate_usd(1000, 1024, 10_000.0))
    assert fn.estimate_cost(1000, duration_ms=50) == pytest.approx(cost.estimate_usd(1000, 1024, 50.0))


def test_above_the_threshold_a_load_needs_confirmation(capsys: pytest.CaptureFixture[str]) -> None:
    fn = _offline_function()  # 1 GB for 10 s: ~$0.17 per 1,000 requests
    fn.confirm_load(1000, 60)  # below $1: printed only
    assert capsys.readouterr().out.startswith("Planned: ~1,000 requests, ~$0.17")
    with pytest.raises(lambdalab.aws.CostConfirmationRequired, match=r"confirm=True") as raised:
        fn.confirm_load(100_000, 60)  # ~$16.69, and pytest's stdin is no terminal
    assert raised.value.estimate_usd == pytest.approx(fn.estimate_cost(100_000)) and raised.value.threshold_usd == 1.0
    assert isinstance(raised.value, lambdalab.errors.ConfigError)
    assert "~$16.69" in capsys.readouterr().out
    fn.confirm_load(100_000, 60, confirmed=True)  # confirmed: printed, not asked
    assert "~$16.69" in capsys.readouterr().out
    cost.confirm(100_000, 16.67, threshold_usd=1.0, ask=lambda prompt: "y")
    with pytest.raises(lambdalab.aws.CostConfirmationRequired):
        cost.confirm(100_000, 16.67, threshold_usd=1.0, ask=lambda prompt: "")
    asked = []
    cost.confirm(10, 0.5, threshold_usd=1.0, ask=asked.append)
    assert asked == []


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_credentials_are_never_written(aws_env: StandIn, tmp_path: Path) -> None:
    import boto3

    secret = "wJalrXUtnFEMI-K7MDENG-lambdalab-never-written"
    session = boto3.Session(aws_access_key_id="AKIALAMBDALABTEST", aws_secret_access_key=secret)
    with lambdalab.aws.Lab(session=session, logs_wait_s=5.0) as lab:
        fn = lab.create_function("secretive", "def handler(event, context):\n    return 'ok'\n")
        result = fn.invoke()
        texts = [repr(lab), repr(fn), repr(result), str(result), str(fn.config), lab.logs("secretive")]
        written = [p for p in [lab.workdir, *lab.workdir.rglob("*")] if p.is_file()]
        assert all(secret not in p.read_text(errors="replace") for p in written)
        assert all(secret not in text for text in texts)
        workdir = lab.workdir
    assert not workdir.exists()


def test_the_stand_in_sets_and_restores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone-real")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://example.invalid")
    monkeypatch.setenv("LAMBDALAB_SPARES", "0")
    monkeypatch.delenv("AWS_ENDPOINT_URL_LAMBDA", raising=False)
    before = dict(os.environ)
    with StandIn() as aws:
        assert os.environ["AWS_ENDPOINT_URL_LAMBDA"] == aws.url == os.environ["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"]
        assert os.environ["AWS_ENDPOINT_URL_IAM"] == aws.iam_url == os.environ["AWS_ENDPOINT_URL"]
        assert "AWS_PROFILE" not in os.environ and os.environ["AWS_SECRET_ACCESS_KEY"] == "testing"
        assert aws.local is not None and aws.url.startswith("http://127.0.0.1:")
        assert lambdalab.aws.has_credentials()
        local = aws.local
    assert dict(os.environ) == before and local.closed


def test_has_credentials_looks_only_at_the_chain_without_a_network_call(tmp_path: Path) -> None:
    empty = {"HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "none"),
             "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "PATH": os.environ.get("PATH", "")}  # fmt: skip
    code = "import lambdalab.aws\nprint(lambdalab.aws.has_credentials())\nassert connected == []\n"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for env, expected in (
        (empty, "False"),
        ({**empty, "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}, "True"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", WATCH + code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**clean, **env},
            check=False,
        )
        assert done.returncode == 0 and done.stdout.strip() == expected, done.stderr[-2000:]
