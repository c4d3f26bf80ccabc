"""runtime_ids: which file a Node.js cell becomes (CommonJS ``.js`` or ES module ``.mjs``), and the names
Lambda's API takes."""

from __future__ import annotations

import pytest

import lambdalab
from lambdalab import runtime_ids
from lambdalab import runtime_catalog
from lambdalab.errors import ConfigError

CJS = [
    "exports.handler = async (event) => event;\n",
    "module.exports.handler = async (event) => event;\n",
    "module.exports = { handler: async (event) => event };\n",
    "const fs = require('fs');\nasync function handler(event) { return fs.existsSync('/'); }\nmodule.exports = { handler };\n",
    # a comment line starting with import / export
    "// import the helpers first\nexports.handler = async () => 1;\n",
    "/*\nexport default nothing\n import x from 'y'\n*/\nexports.handler = async () => 1;\n",
    " * import { x } from 'y'  (a doc comment's line)\nexports.handler = async () => 1;\n".replace(" * ", "/**\n * ", 1)
    .replace("\nexports", "\n */\nexports", 1),
    # a template string line starting with export / import
    "const help = `\nexport HOME=/tmp\nimport os\n`;\nexports.handler = async () => help;\n",
    "const sh = `run:\nexport PATH=${process.env.PATH}\n`;\nexports.handler = async () => sh;\n",
    # strings and regular expressions that hold the words
    "const a = 'export const x = 1';\nconst b = \"import y from 'z'\";\nexports.handler = async () => a + b;\n",
    "const re = /^import\\s+x/m;\nexports.handler = async (e) => re.test(e);\n",
    # dynamic import() and import.meta-free CommonJS
    "exports.handler = async () => (await import('node:os')).platform();\n",
    # nothing that says either: Node's default for .js
    "async function handler(event) { return event; }\n",
    "",
    # a property or a key named like the keywords
    "const o = { export: 1, import: 2 };\nexports.handler = async () => o.export + o.import;\n",
    # require() with no ES module statement
    "const os = require('os');\nglobalThis.handler = () => os.platform();\n",
]

ESM = [
    "export const handler = async (event) => event;\n",
    "export default async function handler(event) { return event; }\n",
    "export { handler };\nasync function handler(e) { return e; }\n",
    "export * from './lib.mjs';\n",
    "import fs from 'fs';\nexport const handler = async () => fs.existsSync('/');\n",
    "import { readFile } from 'node:fs/promises';\nexport const handler = async () => 1;\n",
    "import * as os from 'os';\nexport const handler = async () => os.platform();\n",
    "import './setup.mjs';\nexport const handler = async () => 1;\n",
    "  export async function handler(event) { return event; }\n",
    "const x = 1; export const handler = async () => x;\n",
    # a comment that mentions CommonJS does not make it CommonJS
    "// module.exports = { handler } was the old way\nexport const handler = async () => 1;\n",
    "/* const x = require('x'); */\nexport const handler = async () => 1;\n",
    "const note = 'use module.exports or exports.handler';\nexport const handler = async () => note;\n",
    # require made in an ES module (createRequire): still an ES module
    "import { createRequire } from 'module';\nconst require = createRequire(import.meta.url);\n"
    "const os = require('os');\nexport const handler = async () => os.platform();\n",
    # a template string with a substitution holding code, then a real export
    "const s = `a ${'`'} b ${1 + 2}`;\nexport const handler = async () => s;\n",
]


@pytest.mark.parametrize("source", CJS)
def test_commonjs_cells_become_index_js(source: str) -> None:
    assert runtime_ids.source_filename("nodejs", "index", source) == ("index.js", 0o644)


@pytest.mark.parametrize("source", ESM)
def test_es_module_cells_become_index_mjs(source: str) -> None:
    assert runtime_ids.source_filename("nodejs20.x", "index", source) == ("index.mjs", 0o644)


def test_module_paths_and_other_languages() -> None:
    assert runtime_ids.source_filename("nodejs", "src/app", "export const handler = 1;\n") == ("src/app.mjs", 0o644)
    assert runtime_ids.source_filename("python", "pkg.mod", "import os\n") == ("pkg/mod.py", 0o644)
    assert runtime_ids.source_filename("provided.al2023", "", "#!/bin/sh\n") == ("bootstrap", 0o755)


def test_unterminated_strings_and_comments_do_not_break_the_scan() -> None:
    for source in ("/* never closed\nexport const x = 1;\n", "const s = `never closed\nexport x\n", "'open\n"):
        assert runtime_ids.source_filename("nodejs", "index", source)[0] == "index.js"
    assert runtime_ids.source_filename("nodejs", "index", "const s = 'open\nexport const h = 1;\n")[0] == "index.mjs"


@pytest.mark.parametrize("runtime", ["python", "python-ric", "nodejs", "nodejs-ric"])
def test_lambdalab_short_names_are_not_lambda_identifiers(runtime: str) -> None:
    assert runtime_ids.lambda_kind(runtime) is None


@pytest.mark.parametrize(("runtime", "kind"), [("python3.11", "python"), ("python3.12", "python"),
                                               ("nodejs20.x", "nodejs"), ("nodejs22.x", "nodejs"),
                                               ("provided.al2023", "provided"), ("provided.al2", "provided"),
                                               ("provided", "provided")])
def test_lambda_identifiers_name_their_kind(runtime: str, kind: str) -> None:
    assert runtime_ids.lambda_kind(runtime) == kind


@pytest.mark.parametrize("runtime", ["java21", "go1.x", "nodejs20", "python3", 3, None, "", "Provided"])
def test_other_names_are_not_lambda_identifiers_either(runtime: object) -> None:
    assert runtime_ids.lambda_kind(runtime) is None


CJS_WITH_IMPORT_COMMENT = """// import nothing: this cell is CommonJS
const help = `
export HOME=/tmp
`;
let count = 0;
exports.handler = async (event) => ({ count: ++count, help: help.trim() });
"""


def test_a_commonjs_cell_with_an_import_comment_runs() -> None:
    try:
        runtime_catalog.resolve("nodejs")
    except ConfigError as exc:
        pytest.skip(f"Node.js is not installed here: {exc}")
    with lambdalab.Lab() as lab:
        fn = lab.create_function("cjs", CJS_WITH_IMPORT_COMMENT, runtime="nodejs", handler="index.handler")
        answer = fn.invoke({})
        assert answer.error is None, answer.payload
        assert answer.payload == {"count": 1, "help": "export HOME=/tmp"}
