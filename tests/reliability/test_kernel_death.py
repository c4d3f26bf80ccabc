"""A Jupyter kernel running environments is SIGKILLed: all its environments are gone within 2 s."""

from __future__ import annotations

import ast
import os
import signal
import time

import psutil
import pytest

pytestmark = pytest.mark.slow

CODE = """
import lambdalab, os
lab = lambdalab.Lab()
fns = [lab.create_function(f"k{i}", "import os\\ndef handler(e, c):\\n    return os.getpid()\\n") for i in range(3)]
print(sorted(fn.invoke({}).payload for fn in fns))
"""


def test_environments_die_with_a_killed_kernel():
    jupyter_client = pytest.importorskip("jupyter_client")
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel()
    try:
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        output: list[str] = []
        reply = client.execute_interactive(
            CODE, timeout=60, output_hook=lambda m: output.append(m["content"].get("text", "")))
        assert reply["content"]["status"] == "ok", reply
        pids = ast.literal_eval("".join(output).strip())  # a printed list of ints
        assert len(pids) == 3 and all(psutil.pid_exists(p) for p in pids)
        kernel_pid = manager.provisioner.pid if manager.provisioner else manager.kernel.pid
        os.kill(kernel_pid, signal.SIGKILL)
        deadline = time.monotonic() + 2.0
        alive = pids
        while alive and time.monotonic() < deadline:
            alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
            time.sleep(0.02)
        assert alive == [], f"environments outlived the kernel: {alive}"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
