"""Layers with extensions for the engine's extension, shutdown and telemetry tests."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shutil
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from lambdalab import Function, Lab

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "aws_samples"
# requests and what it imports, copied from this test run's environment into a layer (no network)
REQUESTS = ("requests", "urllib3", "idna", "certifi", "charset_normalizer")
TELEMETRY_EXAMPLE = "python-example-telemetry-api-extension"

# a small stdlib extension: registers, prints every event it takes as one "EVENT <json>" line
PROBE = """#!/usr/bin/env python3
import json, os, sys, time, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
NAME = os.path.basename(__file__)
EVENTS = {events!r}
def call(path, data=None, headers=None, method=None):
    request = urllib.request.Request(f"http://{{api}}{{path}}", data=data, headers=headers or {{}}, method=method)
    with urllib.request.urlopen(request, timeout=None) as r:
        return r.status, dict(r.headers), r.read()
status, headers, body = call(
    "/2020-01-01/extension/register", json.dumps({{"events": EVENTS}}).encode(), {{"Lambda-Extension-Name": NAME}}
)
ident = headers["Lambda-Extension-Identifier"]
print("REGISTERED", NAME, os.getpid(), body.decode(), flush=True)
{before_loop}
while True:
    status, headers, body = call("/2020-01-01/extension/event/next", headers={{"Lambda-Extension-Identifier": ident}})
    event = json.loads(body)
    print("EVENT", NAME, repr(time.time()), json.dumps(event), flush=True)
{on_event}
    if event["eventType"] == "SHUTDOWN":
        sys.exit(0)
"""


def probe(events: tuple[str, ...] = ("INVOKE", "SHUTDOWN"), *, before_loop: str = "", on_event: str = "") -> str:
    return PROBE.format(
        events=list(events),
        before_loop=textwrap.indent(textwrap.dedent(before_loop), ""),
        on_event=textwrap.indent(textwrap.dedent(on_event), "    "),
    )


def layer(root: Path, extensions: dict[str, str], files: dict[str, str] | None = None) -> Path:
    """A layer folder: ``extensions/<name>`` executables and other files by relative path."""
    for name, text in extensions.items():
        path = root / "extensions" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755)
    for rel, text in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def vendor_requests(into: Path) -> None:
    """``pip install -r requirements.txt -t .`` as the examples' READMEs say, from this environment's copies."""
    for name in REQUESTS:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, f"{name} is needed to build the example layer"
        shutil.copytree(Path(spec.origin).parent, into / name, ignore=shutil.ignore_patterns("__pycache__"))


def aws_sample(root: Path, example: str, package: str) -> Path:
    """One aws-samples example as the layer its README builds: ``extensions/`` and its package folder at the root,
    ``requests`` vendored next to ``extension.py``."""
    source = FIXTURES / example
    shutil.copytree(source / "extensions", root / "extensions")
    shutil.copytree(source / package, root / package)
    vendor_requests(root / package)
    return root


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def events(log: str, name: str | None = None) -> list[tuple[float, dict]]:
    """The probes' ``EVENT`` lines: (time, event)."""
    found = []
    for line in log.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[0] == "EVENT" and (name is None or parts[1] == name):
            found.append((float(parts[2]), json.loads(parts[3])))
    return found


class _Collector(BaseHTTPRequestHandler):
    batches: ClassVar[list] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        size = int(self.headers.get("Content-Length", 0))
        self.batches.append(json.loads(self.rfile.read(size)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def collector() -> Iterator[tuple[str, list]]:
    """An HTTP server on loopback keeping the JSON body of every POST: (its URL, the bodies), shut down at the end."""
    batches: list = []
    server = HTTPServer(("127.0.0.1", 0), type("Collector", (_Collector,), {"batches": batches}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", batches
    finally:
        server.shutdown()
        server.server_close()


def telemetry_example_function(lab: Lab, root: Path, function: str, url: str, **settings: Any) -> Function:
    """The Telemetry API example as a function ``telemetry`` with its layer (``telemetry_example``), posting each
    record at once to ``url``; ``settings`` for ``create_function``."""
    version = lab.publish_layer_version("telemetry-example", root)
    return lab.create_function(
        "telemetry",
        function,
        handler="lambda_handler",
        layers=[version.arn],
        env_vars={"DISPATCH_MIN_BATCH_SIZE": "1", "DISPATCH_POST_URI": url},
        **settings,
    )


def telemetry_example(root: Path) -> tuple[Path, str]:
    """The aws-samples Telemetry API example: its layer (built in ``root``) and its function's code."""
    layer_root = aws_sample(root, TELEMETRY_EXAMPLE, "python_example_telemetry_api_extension")
    return layer_root, (FIXTURES / TELEMETRY_EXAMPLE / "function" / "lambda_function.py").read_text()
