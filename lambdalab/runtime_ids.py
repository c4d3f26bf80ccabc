"""Runtime names: Lambda's identifiers (``python3.11``, ``nodejs20.x``, ``provided.al2023``) and lambdalab's.

A function's ``runtime`` is either Lambda's identifier or one of lambdalab's short names, which pick
a runtime client as well as a language:

=============== ======================================================= ===========================
short name      what runs                                               Lambda's identifier
=============== ======================================================= ===========================
``python``      lambdalab's stdlib client (``runtimes/python_bootstrap``) ``python3.X`` (this interpreter)
``python-ric``  AWS's ``awslambdaric``, unchanged                       ``python3.X``
``nodejs``      lambdalab's Node.js client (``runtimes/node_bootstrap``)  ``nodejsNN.x`` (the ``node`` here)
``nodejs-ric``  AWS's ``aws-lambda-ric`` from npm, unchanged            ``nodejsNN.x``
``provided``    the package's or a layer's ``bootstrap`` executable      ``provided.al2023``
=============== ======================================================= ===========================

Pure: nothing here looks at the machine. Whether a runtime is installed (which ``node``, which
``aws-lambda-ric``) is ``engine/runtime_catalog.py``'s question, asked at deploy time.
"""

from __future__ import annotations

import re
import sys
from typing import Final

KINDS: Final = ("python", "python-ric", "nodejs", "nodejs-ric", "provided")
INTERPRETER: Final = f"python{sys.version_info.major}.{sys.version_info.minor}"
PROVIDED_IDS: Final = ("provided.al2023", "provided.al2", "provided")
_PYTHON_ID = re.compile(r"^python(3)\.(\d+)\Z")
_NODE_ID = re.compile(r"^nodejs(\d+)\.x\Z")
# Lambda's runtimes of these languages, newest first (what a template or a boto3 call may name)
KNOWN_NODE_MAJORS: Final = (24, 22, 20, 18, 16)


def kind(runtime: str) -> str | None:
    """The runtime client a name selects (one of ``KINDS``), or None for a name Lambda does not know."""
    if runtime in KINDS:
        return runtime
    if _PYTHON_ID.match(runtime):
        return "python"
    if _NODE_ID.match(runtime):
        return "nodejs"
    if runtime in PROVIDED_IDS:
        return "provided"
    return None


def node_major(runtime: str) -> int | None:
    """The Node.js major version a Lambda identifier asks for (``nodejs20.x`` → 20); None for a short name."""
    match = _NODE_ID.match(runtime)
    return int(match.group(1)) if match else None


def language(runtime: str) -> str:
    """``python``, ``nodejs`` or ``provided``: what the function's code is written for."""
    found = kind(runtime) or "python"
    return found.removesuffix("-ric")


def identifier(runtime: str, node_version: str | None = None) -> str:
    """Lambda's identifier for a runtime name: ``python`` → ``python3.11``; ``nodejs`` → ``nodejs20.x``.

    ``node_version`` is the installed Node.js (``20.20.2``), needed only for the short Node.js names.
    """
    found = kind(runtime)
    if found in ("python", "python-ric") and not _PYTHON_ID.match(runtime):
        return INTERPRETER
    if found in ("nodejs", "nodejs-ric") and not _NODE_ID.match(runtime):
        major = (node_version or "").lstrip("v").split(".")[0]
        return f"nodejs{major}.x" if major.isdigit() else "nodejs"
    if runtime == "provided":
        return "provided.al2023"
    return runtime


def default_module(runtime: str) -> str:
    """The module a bare handler name lives in: ``lambda_function`` (Python), ``index`` (Node.js)."""
    return "index" if language(runtime) == "nodejs" else "lambda_function"


def source_filename(runtime: str, module: str, source: str) -> tuple[str, int]:
    """Where a cell's source goes in the task root, and its mode.

    Python: ``<module>.py``. Node.js: ``<module>.mjs`` when the code uses ES module syntax (an
    ``import``/``export`` statement), else ``<module>.js`` (CommonJS), as Lambda resolves
    ``index.handler`` to either. A custom runtime's source is its ``bootstrap`` (executable).
    """
    lang = language(runtime)
    if lang == "nodejs":
        esm = re.search(r"^\s*(export\s|import\s+[\w{*'\"])", source, re.MULTILINE) is not None
        return module.replace(".", "/") + (".mjs" if esm else ".js"), 0o644
    if lang == "provided":
        return "bootstrap", 0o755
    return module.replace(".", "/") + ".py", 0o644


def describe() -> str:
    """The names accepted, for error messages."""
    return (f"one of {', '.join(KINDS)}, or Lambda's identifier ({INTERPRETER}, "
            f"nodejs{KNOWN_NODE_MAJORS[2]}.x, provided.al2023, ...)")
