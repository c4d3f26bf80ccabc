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
``aws-lambda-ric``) is ``runtime_catalog.py``'s question, asked at deploy time.
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


def lambda_kind(runtime: object) -> str | None:
    """The kind a name selects when it is one of Lambda's identifiers (``python3.11``, ``nodejs20.x``,
    ``provided.al2023``, ``provided``); None for lambdalab's short names (``python``, ``nodejs-ric``...), which
    Lambda's API does not take, and for names Lambda does not know."""
    if not isinstance(runtime, str) or (runtime in KINDS and runtime != "provided"):
        return None
    return kind(runtime)


def source_filename(runtime: str, module: str, source: str) -> tuple[str, int]:
    """Where a cell's source goes in the task root, and its mode.

    Python: ``<module>.py``. Node.js: ``<module>.js`` (CommonJS) unless the code is an ES module,
    as Lambda resolves ``index.handler`` to either: ``.mjs`` when an ``import``/``export`` statement
    appears in the code itself (not in a comment, a string or a regular expression) and neither
    ``module.exports`` nor ``exports.`` does (a ``require(`` alone keeps ``.js``; in an ES module it
    comes from ``createRequire``). A custom runtime's source is its ``bootstrap`` (executable).
    """
    lang = language(runtime)
    if lang == "nodejs":
        return module.replace(".", "/") + (".mjs" if _is_es_module(source) else ".js"), 0o644
    if lang == "provided":
        return "bootstrap", 0o755
    return module.replace(".", "/") + ".py", 0o644


_COMMONJS = re.compile(r"(?<![\w$.])(?:module\s*\.\s*exports(?![\w$])|exports\s*[.\[])")
_ES_STATEMENT = re.compile(
    r"(?<![\w$.])(?:import\s*(?:[{*]|\.\s*meta(?![\w$])|\"\")|import\s+[\w$]"
    r"|export\s*[{*]|export\s+[\w$])"
)


def _is_es_module(source: str) -> bool:
    code = _js_code(source)
    return _COMMONJS.search(code) is None and _ES_STATEMENT.search(code) is not None


_REGEX_AFTER = frozenset("(,=:[!&|?{};+-*%<>~^")
_REGEX_AFTER_WORDS = frozenset(
    {
        "return",
        "typeof",
        "case",
        "do",
        "else",
        "in",
        "of",
        "new",
        "delete",
        "void",
        "throw",
        "yield",
        "await",
        "instanceof",
    }
)


def _js_code(source: str) -> str:
    """``source`` with its comments, strings, template text and regular expressions blanked out.

    Strings become ``""``, regular expressions ``0``, comments a space; the code inside a template's
    ``${...}`` stays. A scanner, not a parser: enough to tell where JavaScript's own words are.
    """
    out: list[str] = []
    templates: list[bool] = []  # one per open '{': True when it is a template's '${'
    last = ""  # the last token of code: a punctuation character or a word
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
        elif c in "'\"":
            i = _skip_string(source, i + 1, c)
            out.append('""')
            last = '"'
        elif c == "`" or (c == "}" and templates and templates[-1]):
            if c == "}":
                templates.pop()
            i, opened = _skip_template(source, i + 1)
            if opened:
                templates.append(True)
                out.append('"" + (')
                last = "("
            else:
                out.append('""' if c == "`" else ")")
                last = '"'
        elif c == "/" and (last in _REGEX_AFTER or last in _REGEX_AFTER_WORDS or not last):
            i = _skip_regex(source, i + 1)
            out.append("0")
            last = "0"
        elif c.isalnum() or c in "_$":
            j = i + 1
            while j < n and (source[j].isalnum() or source[j] in "_$"):
                j += 1
            last = source[i:j]
            out.append(last)
            i = j
        else:
            if c == "{":
                templates.append(False)
            elif c == "}" and templates:
                templates.pop()
            if not c.isspace():
                last = c
            out.append(c)
            i += 1
    return "".join(out)


def _skip_string(source: str, i: int, quote: str) -> int:
    """The index after a '...' or "..." string whose text starts at ``i`` (an unterminated one ends at the line)."""
    n = len(source)
    while i < n and source[i] != quote and source[i] != "\n":
        i += 2 if source[i] == "\\" else 1
    return i + 1 if i < n and source[i] == quote else i


def _skip_template(source: str, i: int) -> tuple[int, bool]:
    """The index after a template's text from ``i``, and whether it stopped at a ``${`` (else at the closing `)."""
    n = len(source)
    while i < n:
        if source[i] == "\\":
            i += 2
        elif source[i] == "`":
            return i + 1, False
        elif source.startswith("${", i):
            return i + 2, True
        else:
            i += 1
    return n, False


def _skip_regex(source: str, i: int) -> int:
    """The index after a regular expression literal whose body starts at ``i`` (and its flags)."""
    n, in_class = len(source), False
    while i < n and source[i] != "\n":
        if source[i] == "\\":
            i += 1
        elif source[i] == "[":
            in_class = True
        elif source[i] == "]":
            in_class = False
        elif source[i] == "/" and not in_class:
            i += 1
            break
        i += 1
    while i < n and (source[i].isalnum() or source[i] in "_$"):
        i += 1
    return i


def describe() -> str:
    """The names accepted, for error messages."""
    return (
        f"one of {', '.join(KINDS)}, or Lambda's identifier ({INTERPRETER}, "
        f"nodejs{KNOWN_NODE_MAJORS[2]}.x, provided.al2023, ...)"
    )
