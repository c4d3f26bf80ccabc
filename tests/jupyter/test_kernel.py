"""The notebook layer in a real kernel (ipykernel, run by nbclient): magics, cards, the live panel.

Each test executes a small in-memory notebook; nbclient shuts the kernel down gracefully, so the
kernel's Lab closes at exit and no runtime process is left behind (checked by the autouse fixture).
"""

from __future__ import annotations

import json
import os
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

HELLO = """count = 0
def handler(event, context):
    global count
    count += 1
    return {"count": count, "event": event}"""


def run_notebook(cells: list[str | tuple[str, list[str]]], timeout: int = 60) -> list[Any]:
    """Execute the cells (source, or (source, tags)) in a fresh kernel; the executed cells."""
    nb = nbformat.v4.new_notebook()
    for cell in cells:
        source, tags = (cell, []) if isinstance(cell, str) else cell
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    env = {**os.environ, "PLOTLY_RENDERER": "plotly_mimetype"}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", startup_timeout=60, shutdown_kernel="graceful")
    client.execute(env=env)
    return nb.cells


def outputs(cell: Any, kind: str) -> list[Any]:
    return [o for o in cell.outputs if o.output_type == kind]


def stdout(cell: Any) -> str:
    return "".join(o.text for o in outputs(cell, "stream") if o.name == "stdout")


def result_data(cell: Any) -> dict[str, Any]:
    found = outputs(cell, "execute_result")
    assert found, f"no result in {cell.source!r}: {cell.outputs}"
    return found[0].data


def test_magics_in_a_real_kernel() -> None:
    cells = run_notebook(
        [
            "%load_ext lambdalab",
            f"%%lambda hello --memory 256\n{HELLO}",
            '%lambda invoke hello {"name": "Ada"}',
            f"%%lambda hello --memory 512\n{HELLO.replace('count += 1', 'count += 10')}",
            "import json\nr = %lambda invoke hello\n"
            "print(json.dumps([r.cold, r.payload['count'], hello.config.memory_mb]))",
            "%lambda list",
            "%lambda envs hello",
            "%lambda logs hello --tail 1",
            "%lambda config hello --timeout 7",
            "%lambda kill hello",
            ("%%lambda bad --memory lots\ndef handler(e, c):\n    return 1", ["raises-exception"]),
            "import lambdalab\nprint(lambdalab.default_lab().functions(), 'bad' in dir())",
            "%%lambda?",
        ]
    )
    card = result_data(cells[1])
    assert "lambdalab-function" in card["text/html"] and "256 MB" in card["text/html"]
    assert card["text/plain"].startswith("<Function hello")
    invoked = result_data(cells[2])
    assert "lambdalab-result" in invoked["text/html"] and ">cold<" in invoked["text/html"]
    assert "<svg" in invoked["text/html"] and "&quot;Ada&quot;" in invoked["text/html"]
    assert invoked["text/plain"].startswith("<InvocationResult cold payload={'count': 1")
    assert json.loads(stdout(cells[4])) == [True, 10, 512]  # new code, cold, new memory
    assert "hello" in result_data(cells[5])["text/plain"]
    assert "idle" in result_data(cells[6])["text/plain"]
    assert stdout(cells[7]).startswith("REPORT RequestId")
    assert "timeout=7" in result_data(cells[8])["text/plain"]
    assert "environment(s) retired" in stdout(cells[9])
    errors = "".join(o.get("text", "") for o in cells[10].outputs)
    assert "UsageError" in errors and "invalid int value" in errors and "Traceback" not in errors
    assert stdout(cells[11]).strip() == "['hello'] False"
    assert not [o for o in cells[12].outputs if o.output_type == "error"]


PANEL_CELLS = [
    "%load_ext lambdalab\nimport asyncio, json, time, lambdalab",
    "%%lambda slow\nimport time\ndef handler(event, context):\n    time.sleep(0.05)\n    return 1",
    "p = lambdalab.panel(slow, rate=20, duration_s=4)\nhandle = p.start()\nt0 = time.monotonic()\np",
    "points = [p.points()]\nawait asyncio.sleep(1.0)\npoints.append(p.points())",
    "print(json.dumps({'at': time.monotonic() - t0, 'running': p.running}))",
    "await asyncio.sleep(1.0)\npoints.append(p.points())",
    (
        "report = await p.wait_done(30)\nt_end = time.monotonic()\n"
        "during = [t for t in p.refresh_times if t0 <= t <= t_end]\n"
        "print(json.dumps({'points': points + [p.points()], 'requests': report.summary.requests,"
        " 'refreshes': len(during), 'elapsed': t_end - t0, 'costs': sorted(p.refresh_durations)[-3:],"
        " 'widget': 'application/vnd.jupyter.widget-view+json'"
        " in p._repr_mimebundle_()}))"
    ),
]


def test_panel_charts_grow_live_while_the_kernel_answers_cells() -> None:
    cells = run_notebook(PANEL_CELLS)
    shown = result_data(cells[2])
    assert "application/vnd.jupyter.widget-view+json" in shown
    answered = json.loads(stdout(cells[4]))
    assert answered["running"] and answered["at"] < 3.5, answered  # another cell ran during the load
    final = json.loads(stdout(cells[6]))
    print("panel run:", answered, final)
    points = final["points"]
    assert points[1] > points[0] and points[2] > points[1], points  # the live figures grew during the run
    assert final["requests"] >= 60
    assert final["refreshes"] / final["elapsed"] >= 2.0, final  # at least twice a second while it ran
