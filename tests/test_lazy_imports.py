"""``import lambdalab``: the subpackages load, viz, sim and events are reachable on first use (PEP 562), and the
import still pulls in no notebook or charting library. Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HEAVY = ("IPython", "ipywidgets", "plotly", "anywidget", "tqdm", "ipykernel")


def fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter; it prints one JSON document, returned here."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_lambdalab_imports_no_notebook_or_chart_library_and_no_subpackage_yet() -> None:
    seen = fresh(
        f"""
        import json, sys
        import lambdalab
        heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
        lazy = [m for m in ("lambdalab.load", "lambdalab.viz", "lambdalab.sim") if m in sys.modules]
        print(json.dumps({{"heavy": heavy, "lazy": lazy}}))
        """
    )
    assert seen == {"heavy": [], "lazy": []}


def test_subpackages_are_attributes_and_load_on_first_use() -> None:
    seen = fresh(
        f"""
        import importlib, json, sys, types
        import lambdalab
        listed = [n for n in ("load", "viz", "sim", "events") if n in dir(lambdalab)]
        same = [n for n in listed if getattr(lambdalab, n) is importlib.import_module("lambdalab." + n)]
        report = lambdalab.load.run  # the documented spelling
        names = [lambdalab.load.Constant.__name__, lambdalab.viz.timeline.__name__,
                 lambdalab.sim.Simulation.__name__, lambdalab.events.s3_put.__name__]
        try:
            lambdalab.nosuch
            missing = "no error"
        except AttributeError as exc:
            missing = str(exc)
        heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
        print(json.dumps({{"listed": listed, "same": same, "run": callable(report), "names": names,
                           "missing": missing, "heavy": heavy}}))
        """
    )
    assert seen["listed"] == seen["same"] == ["load", "viz", "sim", "events"]
    assert seen["run"] and seen["names"] == ["Constant", "timeline", "Simulation", "s3_put"]
    assert seen["missing"] == "module 'lambdalab' has no attribute 'nosuch'"
    assert seen["heavy"] == []  # viz imports plotly only when a chart is drawn


def test_from_import_and_a_load_run_through_the_package_attribute() -> None:
    seen = fresh(
        """
        import json
        import lambdalab
        from lambdalab import load, viz  # the usual spelling works as before
        with lambdalab.Lab() as lab:
            fn = lab.create_function("hi", "def handler(e, c):\\n    return 1\\n")
            report = lambdalab.load.run(fn, lambdalab.load.Constant(50), count=5, progress=False)
        print(json.dumps({"requests": report.summary.requests, "ok": report.summary.succeeded,
                          "same": load is lambdalab.load and viz is lambdalab.viz}))
        """
    )
    assert seen == {"requests": 5, "ok": 5, "same": True}
