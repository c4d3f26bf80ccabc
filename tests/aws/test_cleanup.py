"""``cleanup`` lists exactly what a Lab created, ``close(delete=True)`` leaves nothing, ``close(delete=False)`` leaves
everything and says how to remove it; resources of other Labs, or not lambdalab's, are never touched."""

from __future__ import annotations

import boto3
import pytest

import lambdalab.aws
from lambdalab.aws.standin import StandIn

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

CELL = "def handler(event, context):\n    return 1\n"


def _lines(lab: lambdalab.aws.Lab) -> set[str]:
    """``created()`` written as cleanup writes its lines."""
    kinds = {"function": ":function:", "layer": ":layer:", "role": ":role/"}
    out = set()
    for ident in lab.created():
        kind = next((k for k, mark in kinds.items() if mark in ident), "log-group")
        out.add(f"{kind} {ident}")
    return out


def _role_exists(standin: StandIn, arn: str) -> bool:
    iam = boto3.client("iam", endpoint_url=standin.iam_url, region_name="us-east-1")
    try:
        iam.get_role(RoleName=arn.rsplit("/", 1)[1])
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def test_dry_run_lists_exactly_what_the_lab_created_and_close_leaves_nothing(aws_env: StandIn, tmp_path) -> None:
    layer = tmp_path / "shared"
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "shared.py").write_text("X = 1\n")
    lab = lambdalab.aws.Lab()
    try:
        lab.create_function("one", CELL, layers=[layer]).invoke()
        lab.create_function("two", CELL).invoke()
        created = lab.created()
        kinds = [line.split()[0] for line in sorted(_lines(lab), key=lambda line: created.index(line.split()[1]))]
        assert kinds == ["layer", "role", "function", "log-group", "function", "log-group"]  # in creation order
        assert created[1].endswith(f":role/lambdalab/lambdalab-exec-{lab.id}") and lab.role_arn == created[1]
        assert f":layer:lambdalab-{lab.id}-shared:1" in created[0]
        listed = lambdalab.aws.cleanup(lab_id=lab.id, dry_run=True)
        assert set(listed) == _lines(lab) and len(listed) == len(created)
        assert [line.split()[0] for line in listed] == [
            "function",
            "function",
            "layer",
            "role",
            "log-group",
            "log-group",
        ]
        assert lambdalab.aws.cleanup(lab_id="00000000", dry_run=True) == []  # another Lab's: none of these
        assert lab.functions() == ["one", "two"]  # a dry run deletes nothing
        role = lab.role_arn
    finally:
        lab.close(delete=True)
    assert lab.created() == [] and lab.closed
    assert lambdalab.aws.cleanup(lab_id=lab.id, dry_run=True) == []
    assert not _role_exists(aws_env, role)
    assert aws_env.local is not None and aws_env.local.functions() == []


def test_close_without_delete_leaves_everything_and_cleanup_removes_it(
    aws_env: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = lambdalab.aws.Lab()
    lab.create_function("kept", CELL).invoke()
    lab.close(delete=False)
    assert f"lambdalab aws cleanup --lab {lab.id}" in capsys.readouterr().err
    listed = lambdalab.aws.cleanup(lab_id=lab.id, dry_run=True)
    assert set(listed) == _lines(lab) and len(listed) == 3
    with lambdalab.aws.Lab() as other:  # a Lab still running is not another Lab's cleanup
        other.create_function("other", CELL)
        assert lambdalab.aws.cleanup(lab_id=lab.id) == listed
        assert lambdalab.aws.cleanup(dry_run=True) == [
            f"function {other.function('other').arn()}",
            f"role {other.role_arn}",
        ]
    assert lambdalab.aws.cleanup(dry_run=True) == []
    assert not _role_exists(aws_env, next(line for line in listed if line.startswith("role ")).split()[1])


def test_a_given_role_is_never_deleted_and_untagged_functions_are_not_listed(aws_env: StandIn) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    arn = iam.create_role(RoleName="mine", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name="us-east-1")
    import io
    import zipfile

    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("lambda_function.py", CELL)
    lam.create_function(FunctionName="lambdalab-not-ours", Runtime=lambdalab.runtime_ids.INTERPRETER, Role=arn,
                        Handler="lambda_function.handler", Code={"ZipFile": package.getvalue()})  # fmt: skip
    try:
        with lambdalab.aws.Lab(role_arn=arn) as lab:
            lab.create_function("uses-mine", CELL)
            assert lab.created() == [lab.function("uses-mine").arn()]
            assert lambdalab.aws.cleanup(dry_run=True) == [f"function {lab.function('uses-mine').arn()}"]
        assert iam.get_role(RoleName="mine")["Role"]["Arn"] == arn
        assert "lambdalab-not-ours" in {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    finally:
        lam.delete_function(FunctionName="lambdalab-not-ours")
        iam.delete_role(RoleName="mine")


def test_a_lab_dropped_without_close_says_what_it_left(aws_env: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    import gc

    lab = lambdalab.aws.Lab()
    lab.create_function("forgotten", CELL)
    lab_id, workdir = lab.id, lab.workdir
    del lab
    gc.collect()
    assert f"left 2 resources in us-east-1; remove them with: lambdalab aws cleanup --lab {lab_id}" in (
        capsys.readouterr().err
    )
    assert not workdir.exists()
    assert len(lambdalab.aws.cleanup(lab_id=lab_id)) == 2
    assert lambdalab.aws.cleanup(lab_id=lab_id, dry_run=True) == []
