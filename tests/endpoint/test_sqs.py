"""The local SQS trigger: batches, partial batch failures, redelivery after the visibility timeout, DLQ."""

from __future__ import annotations

import collections
import json
import time
from pathlib import Path

import pytest

import lambdalab

pytestmark = pytest.mark.slow

# Fails message i on its first receive when i % 7 == 0, and on every receive when i % 97 == 0.
# Each invocation appends "<messageId> <receive count> <ok|fail>" lines to a log file (O_APPEND).
WORKER = r"""
import json, os

LOG = os.environ["DELIVERY_LOG"]

def handler(event, context):
    failures, lines = [], []
    for record in event["Records"]:
        i = int(record["body"])
        count = int(record["attributes"]["ApproximateReceiveCount"])
        fail = i % 97 == 0 or (i % 7 == 0 and count == 1)
        lines.append(f"{record['messageId']} {count} {'fail' if fail else 'ok'}\n")
        if fail:
            failures.append({"itemIdentifier": record["messageId"]})
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, "".join(lines).encode())
    os.close(fd)
    return {"batchItemFailures": failures}
"""


def test_thousand_messages_no_loss_no_unexplained_duplicates(tmp_path: Path) -> None:
    log = tmp_path / "deliveries.log"
    with lambdalab.Lab() as lab:
        fn = lab.create_function("worker", WORKER, timeout_s=1, env_vars={"DELIVERY_LOG": str(log)})
        queue = lab.sqs_queue(
            "jobs",
            fn,
            batch_size=10,
            visibility_timeout_s=1.5,
            max_receive_count=3,
            report_batch_item_failures=True,
            max_concurrency=5,
        )
        ids = queue.send_batch([str(i) for i in range(1000)])
        queue.wait_until_empty(timeout_s=90)
        stats = queue.statistics()
        dead = queue.dead_letters
        deliveries = queue.deliveries
    body_of = dict(zip(ids, range(1000), strict=True))
    seen: dict[str, list[tuple[int, str]]] = collections.defaultdict(list)
    for line in log.read_text().splitlines():
        message_id, count, outcome = line.split()
        seen[message_id].append((int(count), outcome))
    assert set(seen) == set(ids)  # no loss: every message reached the handler
    for message_id, attempts in seen.items():
        i = body_of[message_id]
        if i % 97 == 0:  # always fails: exactly max_receive_count receives, then the DLQ
            assert attempts == [(1, "fail"), (2, "fail"), (3, "fail")], (i, attempts)
        elif i % 7 == 0:  # fails once: one documented redelivery
            assert attempts == [(1, "fail"), (2, "ok")], (i, attempts)
        else:
            assert attempts == [(1, "ok")], (i, attempts)
    always = {m for m in ids if body_of[m] % 97 == 0}
    assert {d["messageId"] for d in dead} == always and all(
        d["attributes"]["ApproximateReceiveCount"] == "3" for d in dead
    )
    assert stats["deleted"] == 1000 - len(always) and stats["dead_lettered"] == len(always)
    assert stats["receives"] == sum(len(a) for a in seen.values()) == len(deliveries)
    assert all(d.outcome in ("deleted", "failed") for d in deliveries)
    assert max(collections.Counter(d.request_id for d in deliveries).values()) <= 10  # batch size


def test_records_have_lambdas_sqs_shape(tmp_path: Path) -> None:
    keep = (
        "import json, os\n"
        "def handler(event, context):\n"
        "    with open(os.environ['EVENT_FILE'], 'a') as f:\n"
        "        f.write(json.dumps(event) + '\\n')\n"
    )
    out = tmp_path / "events.jsonl"
    with lambdalab.Lab() as lab:
        fn = lab.create_function("keep", keep, env_vars={"EVENT_FILE": str(out)})
        queue = lab.sqs_queue("shape", fn, batch_size=5, batching_window_s=0.3, visibility_timeout_s=5)
        started = time.time()
        queue.send_batch(["a", {"b": 1}], message_attributes={"kind": "test"})
        queue.wait_until_empty(timeout_s=30)
        invoked = lab.invocations()
    batches = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(batches) == 1 and len(invoked) == 1  # the window gathered both messages into one batch
    assert invoked["submitted"].iloc[0] - started >= 0.25  # ... and waited for it
    records = batches[0]["Records"]
    assert [r["body"] for r in records] == ["a", '{"b": 1}']
    first = records[0]
    assert set(first) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert first["eventSource"] == "aws:sqs" and first["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:shape"
    assert set(first["attributes"]) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert first["messageAttributes"]["kind"]["stringValue"] == "test"


def test_handler_error_fails_the_whole_batch_and_malformed_reports_too() -> None:
    flaky = (
        "def handler(event, context):\n"
        "    bodies = [r['body'] for r in event['Records']]\n"
        "    if 'boom' in bodies and event['Records'][0]['attributes']['ApproximateReceiveCount'] == '1':\n"
        "        raise RuntimeError('boom')\n"
        "    if 'bad' in bodies and event['Records'][0]['attributes']['ApproximateReceiveCount'] == '1':\n"
        "        return {'batchItemFailures': [{'itemIdentifier': 'not-in-batch'}]}\n"
        "    return {'batchItemFailures': []}\n"
    )
    with lambdalab.Lab() as lab:
        fn = lab.create_function("flaky", flaky, timeout_s=1)
        queue = lab.sqs_queue(
            "q", fn, batch_size=3, batching_window_s=0.2, visibility_timeout_s=1, report_batch_item_failures=True
        )
        queue.send_batch(["x", "boom", "y"])
        queue.wait_until_empty(timeout_s=30)
        queue.send_batch(["p", "bad", "q"])
        queue.wait_until_empty(timeout_s=30)
        outcomes = [(d.receive_count, d.outcome) for d in queue.deliveries]
    assert outcomes == [(1, "failed")] * 3 + [(2, "deleted")] * 3 + [(1, "failed")] * 3 + [(2, "deleted")] * 3


def test_settings_are_validated_as_lambda_does() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("f", "def handler(e, c):\n    return 1\n", timeout_s=10)
        with pytest.raises(lambdalab.ConfigError, match="function's timeout"):
            lab.sqs_queue("q", fn, visibility_timeout_s=5)
        with pytest.raises(lambdalab.ConfigError, match="batching_window_s"):
            lab.sqs_queue("q", fn, batch_size=100, visibility_timeout_s=60)
        with pytest.raises(lambdalab.ConfigError, match="max_concurrency"):
            lab.sqs_queue("q", fn, max_concurrency=1, visibility_timeout_s=60)


def test_batches_are_sized_by_their_json_not_their_utf8(lab: lambdalab.Lab) -> None:
    # ten 256 KiB messages of emoji: 2.5 MiB of UTF-8, but 7.5 MiB as JSON escapes them (12 bytes each)
    fn = lab.create_function("c", "def handler(e, c):\n    return len(e['Records'])\n", memory_mb=512)
    queue = lab.sqs_queue("emoji", fn, batch_size=10, enabled=False)
    queue.send_batch(["😀" * (64 * 1024)] * 10)
    queue.update(enabled=True)
    queue.wait_until_empty(timeout_s=60)
    stats = queue.statistics()
    assert stats["throttled"] == 0 and stats["deleted"] == 10 and stats["batches"] >= 2
    sizes = lab.invocations()["batch_size"]
    assert sizes.sum() == 10 and sizes.max() < 10


def test_sqs_refuses_at_send_what_sqs_refuses(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("c", "def handler(e, c):\n    return None\n")
    queue = lab.sqs_queue("limits", fn, enabled=False)
    queue.send("x" * (1024 * 1024))  # exactly 1 MiB: accepted
    with pytest.raises(lambdalab.ConfigError, match="Message must be shorter than 1048576 bytes"):
        queue.send("x" * (1024 * 1024 - 3), message_attributes={"a": "bcd"})
    with pytest.raises(lambdalab.ConfigError, match="Invalid binary character '#x1'"):
        queue.send("ok\x01")
    with pytest.raises(lambdalab.ConfigError, match="Invalid binary character"):
        queue.send_batch(["fine", "\ud800"])  # none sent unless all pass
    assert queue.statistics()["sent"] == 1
    for name in ("キュー", "q²", "a.b"):
        with pytest.raises(lambdalab.ConfigError, match="invalid name"):
            lab.sqs_queue(name, fn)
