"""JSON nested too deeply (Python's parser gives up with a RecursionError) is a 400 on every call that reads a body
here, and a ConfigError for a template, never a 500 or a traceback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import lambdalab
from lambdalab.endpoint.templates import load_template
from lambdalab.errors import ConfigError

DEEP = b'{"a": ' * 100_000 + b"1" + b"}" * 100_000


def _send(url: str, method: str, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url + path, data=body, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers


def test_a_deep_body_is_a_400_everywhere(served: Any) -> None:
    lab, url = served
    calls = [
        ("PUT", "/2021-10-31/functions/echo/url", {}),
        ("POST", "/2021-10-31/functions/echo/url", {}),
        ("POST", "/2015-03-31/event-source-mappings/", {}),
        ("PUT", "/2015-03-31/functions/echo/configuration", {}),
    ]
    for method, path, headers in calls:
        status, answer = _send(url, method, path, DEEP, headers)
        assert (status, answer.get("x-amzn-ErrorType")) == (400, "InvalidRequestContentException"), path
    assert lab.function("echo").invoke({"still": "serving"}).payload["event"] == {"still": "serving"}


def test_a_deep_or_broken_json_template_is_a_config_error(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        for text in (DEEP.decode(), "{not json", json.dumps({"Resources": 1})[:-1]):
            (tmp_path / "template.json").write_text(text)
            with pytest.raises(ConfigError, match="invalid template"):
                load_template(lab, tmp_path / "template.json")
