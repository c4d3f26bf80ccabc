"""Starts AWS's runtime client (``awslambdaric``, unchanged) the way Lambda's managed Python runtime does.

On Lambda the runtime client and everything it imports (json, logging, traceback, decimal, simplejson,
...) are loaded before the handler, so a ``logging.py`` or ``simplejson.py`` in the task root never
replaces them; the handler's own imports then follow sys.path, task root first. Started as
``python -B -P -S -u ric_bootstrap.py HANDLER`` with ``PYTHONPATH`` naming only where awslambdaric is
installed: -P keeps this folder off sys.path, the task root goes first only once the client is loaded.

SnapStart (``LAMBDALAB_SNAPSHOT_FD`` given to a template): awslambdaric runs its own before-snapshot hooks,
``restore_next``, after-restore hooks and error reports (exit 64/65); only ``LambdaRuntimeClient.restore_next``
is wrapped: the real ``GET /runtime/restore/next``, then lambdalab's fork server (``snapshot_server.py``), which
returns in each restored environment, so awslambdaric's after-restore part runs there, as on Lambda.
"""

import os
import sys

from awslambdaric import __main__ as awslambdaric_main

_SNAPSHOT_FD = os.environ.pop("LAMBDALAB_SNAPSHOT_FD", None)  # before the handler's module can see it


def _serve_snapshots(fd: int) -> None:
    """Wrap ``LambdaRuntimeClient.restore_next`` (the name awslambdaric has used since 3.0): GET, then serve."""
    import importlib.util

    from awslambdaric import lambda_runtime_client

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "snapshot_server.py")
    spec = importlib.util.spec_from_file_location("_lambdalab_snapshot_server", path)
    assert spec is not None and spec.loader is not None
    server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(server)
    client = lambda_runtime_client.LambdaRuntimeClient
    restore_next = client.restore_next

    def restore_next_then_serve(self: object) -> None:
        restore_next(self)  # raises on anything but 200: awslambdaric reports Runtime.BeforeSnapshotError
        server.serve(fd)

    client.restore_next = restore_next_then_serve


if _SNAPSHOT_FD is not None:
    _serve_snapshots(int(_SNAPSHOT_FD))
sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd())

if __name__ == "__main__":
    awslambdaric_main.main(sys.argv)
