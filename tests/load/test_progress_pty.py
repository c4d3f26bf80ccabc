"""On a terminal that says it is 0 by 0 (a pty nobody sized), the load's tqdm bar still prints its line."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

CODE = """
import lambdalab
from lambdalab import load
with lambdalab.Lab() as lab:
    fn = lab.create_function("f", source="def handler(event, context):\\n    return 1\\n")
    load.run(fn, load.Constant(20), duration_s=0.5, progress=True)
"""


def test_a_zero_sized_terminal_still_gets_the_bar() -> None:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
    child = subprocess.Popen([sys.executable, "-c", CODE], stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the pty
                    break
                if not chunk:
                    break
                out += chunk
            elif child.poll() is not None:
                break
        assert child.wait(timeout=30) == 0, out.decode(errors="replace")
    finally:
        os.close(master)
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    text = out.decode(errors="replace")
    assert "load: 100%" in text and " done" in text, repr(text[-300:])
