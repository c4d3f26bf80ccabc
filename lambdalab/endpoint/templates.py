"""Functions from a folder of handler files or from a SAM template, registered in a Lab.

Folder: every top-level ``*.py`` file that defines the handler function (``handler`` unless told
otherwise; found by parsing, nothing is imported) becomes a function named after the file, with
the whole folder as its code. A folder holding ``template.yaml`` / ``template.yml`` is read as a
SAM template instead.

SAM template: each ``AWS::Serverless::Function`` resource, with ``Globals.Function`` merged in by SAM's rules
(``template_globals.py``), and each ``AWS::Lambda::Function`` (``template_sources.py``): ``FunctionName`` (else
the logical id), ``CodeUri`` (a folder or a .zip, relative to the template) or ``InlineCode``,
``Handler``, ``Runtime``, ``MemorySize``, ``Timeout``, ``Environment.Variables``,
``ReservedConcurrentExecutions``, ``LoggingConfig`` (``LogFormat``, ``ApplicationLogLevel``,
``SystemLogLevel``; a ``LogGroup`` is noted and left out) and ``TenancyConfig``; ``AutoPublishAlias``; SQS queues and
their mappings (``template_sources.py``); Kinesis streams, DynamoDB table streams and their mappings
(``template_streams.py``). CloudFormation short tags (``!Ref``, ``!GetAtt``, ``!Sub``...) load as
their long forms and resolve from parameters' defaults, pseudo parameters, ``Mappings`` and the resources
lambdalab made (``template_values.py``); anything else is left out with a note.

Layers: each ``AWS::Serverless::LayerVersion`` (``ContentUri``: a local folder or .zip) and
``AWS::Lambda::LayerVersion`` whose ``Content`` is a local path is published first, named by its
``LayerName`` (else the logical id); an S3 location is skipped with a note. A function's ``Layers``
(``Globals.Function.Layers`` first, then its own, as SAM merges lists) take ``!Ref LogicalId`` of such a
layer and layer version ARNs, which must be published in the Lab or mapped to a local folder
(``Lab.map_layers``, ``lambdalab serve --layer-map FILE``): a function with an ARN lambdalab cannot
find is skipped with a note naming the ARN, never served without it.

Runtimes: ``python3.x``, ``nodejsNN.x`` and ``provided.al2023`` / ``provided.al2`` / ``provided``
(``Globals.Function.Runtime`` too). A version not installed here (``python3.12`` on 3.11, ``nodejs22.x``
where Node.js 20 is installed) is served on the one that is, with a note saying so. A Node.js function's
``CodeUri`` holds its ``index.mjs`` / ``index.js``; a custom runtime's holds its ``bootstrap`` (``Handler``
optional), or, with the resource's ``Metadata: BuildMethod: go1.x``, a Go main package built here with
``go build`` (offline, as ``lambdalab.custom_runtimes`` builds; the binary becomes ``bootstrap``). A
custom runtime with neither, and no layer that could bring a bootstrap, is skipped with a note.

Names, handlers and packages go through ``Lab.create_function``'s checks (a ``Handler`` that is not
``module.function`` with identifiers, an invalid ``FunctionName``, a ``CodeUri`` that does not exist or a .zip
over Lambda's limits, an unknown ``Runtime``, a malformed property): such a resource is skipped with a note
naming its logical id and why, and the rest of the template still loads. No ``CodeUri`` is ``.``, as for
``sam local``.

Rules: returns notes instead of printing; raises ``ConfigError`` for a file it cannot read.
"""

from __future__ import annotations

import ast
import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalab import custom_runtimes, runtime_catalog, runtime_ids
from lambdalab.endpoint import template_globals, template_parts, template_sources, template_streams, template_urls
from lambdalab.endpoint.template_values import MAPPINGS, UNRESOLVED, Skip, number, resolve
from lambdalab.errors import ConfigError, LambdaLabError
from lambdalab.packages.layers import UnknownLayerError

if TYPE_CHECKING:
    from lambdalab.api import Lab

INTERPRETER = runtime_ids.INTERPRETER  # what runs every function here
_TEMPLATE_NAMES = ("template.yaml", "template.yml", "template.json")


# -- folders ---------------------------------------------------------------------------------------
def load_folder(lab: Lab, path: str | Path, handler: str = "handler") -> tuple[list[str], list[str]]:
    """Register the handlers found under ``path`` (a folder or one file); returns (names, notes)."""
    root = Path(path)
    if root.is_dir():
        for candidate in _TEMPLATE_NAMES:
            if (root / candidate).is_file():
                return load_template(lab, root / candidate)
        files = sorted(p for p in root.glob("*.py") if not p.name.startswith(("_", "test_")))
    elif root.is_file():
        files = [root]
    else:
        raise ConfigError(f"invalid path: {str(root)!r} is neither a file nor a folder")
    names, notes = [], []
    for file in files:
        if not _defines(file, handler):
            notes.append(f"{file.name}: no top-level function {handler!r}; not served")
            continue
        name = re.sub(r"[^A-Za-z0-9_-]", "-", file.stem)[:64]
        code = root if root.is_dir() else file
        try:
            lab.create_function(name, path=code, handler=f"{file.stem}.{handler}")
        except ConfigError as exc:  # one file's bad name never stops the others
            notes.append(f"{file.name}: {exc}; not served")
            continue
        names.append(name)
    return names, notes


def _defines(file: Path, function: str) -> bool:
    try:
        tree = ast.parse(file.read_text(), filename=str(file))
    except (SyntaxError, UnicodeDecodeError, OSError):
        return False
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function for node in tree.body
    )


# -- SAM templates -------------------------------------------------------------------------------
def read_template(path: str | Path) -> dict[str, Any]:
    """A template as data (YAML with CloudFormation's short tags, or JSON)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"invalid template: cannot read {str(path)!r} ({exc.strerror})") from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ConfigError(f"invalid template: {path} is not valid JSON ({type(exc).__name__}: {exc})") from None
    else:
        try:
            import yaml
        except ImportError:
            raise ConfigError("reading a YAML template needs PyYAML: pip install pyyaml") from None
        try:
            data = yaml.load(text, Loader=_loader(yaml))  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise ConfigError(f"invalid template: {path} is not valid YAML ({exc})") from None
        except RecursionError:
            raise ConfigError(f"invalid template: {path} is nested too deeply") from None
    if not isinstance(data, dict):
        raise ConfigError(f"invalid template: {path} does not hold a mapping")
    return data


def _loader(yaml: Any) -> Any:
    """A SafeLoader that reads ``!Ref x`` as ``{"Ref": "x"}``, ``!GetAtt a.b`` as ``{"Fn::GetAtt": ["a", "b"]}``..."""

    class CloudFormationLoader(yaml.SafeLoader):  # type: ignore[misc]
        pass

    def construct(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "Ref":
            return {"Ref": value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{suffix}": value}

    CloudFormationLoader.add_multi_constructor("!", construct)
    return CloudFormationLoader


def load_template(
    lab: Lab, path: str | Path, parameters: Mapping[str, Any] | None = None
) -> tuple[list[str], list[str]]:
    """Publish the template's layers, register its functions, wire its SQS sources; (names, notes).

    One resource lambdalab cannot serve (a bad ``FunctionName``, ``CodeUri`` or ``Runtime``, a malformed
    property) is left out with a note naming its logical id; the rest of the template still loads.
    ``parameters`` override the ``Parameters``' defaults, as ``sam local --parameter-overrides`` does."""
    path = Path(path)
    template = read_template(path)
    notes: list[str] = []
    context = _context(lab, template, parameters or {}, notes)
    defaults = template_globals.function_globals(template, notes)
    resources = template.get("Resources") or {}
    if not isinstance(resources, dict):
        raise ConfigError(f"invalid template: {path} has no Resources mapping")
    template_sources.add_queues(lab, resources, context, notes)
    template_streams.add_streams(lab, resources, context, notes)
    for logical_id, resource in resources.items():
        if isinstance(resource, dict) and resource.get("Type") in template_parts.LAYER_TYPES:
            try:  # a !Ref to the layer resolves to its version ARN, as in CloudFormation
                context[logical_id] = template_parts.publish_layer(lab, path.parent, logical_id, resource, context)
            except (Skip, ConfigError) as skip:
                notes.append(f"{logical_id}: {skip}; not published")
    functions = {k: r for k, r in resources.items() if isinstance(r, dict) and r.get("Type") in _FUNCTION_TYPES}
    for logical_id, resource in functions.items():  # !Ref and !GetAtt .Arn of every function, before any is made
        own = resource.get("Properties")
        name = resolve(own.get("FunctionName", logical_id), context) if isinstance(own, dict) else logical_id
        if isinstance(name, str):
            context[logical_id], context[f"{logical_id}.Arn"] = name, lab.arn(name)
    names: list[str] = []
    served: dict[str, tuple[str, str | None]] = {}
    for logical_id, resource in functions.items():
        try:
            served[logical_id] = _function(lab, path.parent, logical_id, resource, defaults, context, notes)
            names.append(served[logical_id][0])
        except UnknownLayerError as exc:
            arn = str(exc.message).removeprefix("Layer version ").removesuffix(" does not exist.")
            notes.append(
                f"{logical_id}: layer {arn} is neither in the template nor mapped to a local folder (map it "
                "with lambdalab serve --layer-map FILE, a file of 'ARN: ./folder' lines); not served"
            )
        except (Skip, ConfigError) as skip:  # one bad resource never stops the others
            notes.append(f"{logical_id}: {skip}; not served")
        except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a malformed property
            notes.append(f"{logical_id}: malformed ({type(exc).__name__}: {exc}); not served")
    for logical_id, props, target in template_sources.mappings(resources, served, context):
        try:
            notes.append(template_sources.wire(lab, logical_id, props, target, context))
        except Skip as skip:
            notes.append(f"{logical_id}: {skip}; not wired")
        except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a malformed property
            notes.append(f"{logical_id}: malformed ({type(exc).__name__}: {exc}); not wired")
    template_urls.add(lab, resources, served, defaults, context, notes)  # FunctionUrlConfig, AWS::Lambda::Url
    return names, notes


_FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


def _context(lab: Lab, template: dict[str, Any], overrides: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """Parameters (their ``Default``), pseudo parameters and ``Mappings``, for ``template_values.resolve``."""
    parameters: Any = template.get("Parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    context = {k: v.get("Default") for k, v in parameters.items() if isinstance(v, dict)}
    for key, value in overrides.items():
        if key in context:
            context[key] = value
        else:
            notes.append(f"parameter {key} is not in the template's Parameters; ignored")
    context.update(
        {
            "AWS::Region": lab.settings.region,
            "AWS::AccountId": lab.settings.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "lambdalab",
            MAPPINGS: template.get("Mappings") if isinstance(template.get("Mappings"), dict) else {},
        }
    )
    return context


def _function(
    lab: Lab,
    base: Path,
    logical_id: str,
    resource: dict[str, Any],
    defaults: dict[str, Any],
    context: dict[str, Any],
    notes: list[str],
) -> tuple[str, str | None]:
    """Register one function resource (and its AutoPublishAlias); returns (name, the qualifier its events use)."""
    props = resource.get("Properties") or {}
    if not isinstance(props, dict):
        raise Skip("Properties must be a mapping")
    alias = None
    if resource.get("Type") == "AWS::Lambda::Function":
        props = template_sources.lambda_function_props(props)
    else:
        props = template_globals.merge(logical_id, defaults, props, resource.get("IgnoreGlobals"))
        alias = template_sources.check_alias(logical_id, props, context)
    metadata = resource.get("Metadata")
    build_method = metadata.get("BuildMethod") if isinstance(metadata, dict) else None
    name = _register(lab, base, logical_id, props, context, notes, build_method)
    if alias is not None:
        try:
            template_sources.auto_publish(lab, logical_id, name, alias, props, context, notes)
        except (LambdaLabError, Skip) as exc:
            lab.delete_function(name)
            raise Skip(f"AutoPublishAlias {alias}: {exc}") from None
    return name, alias


def _register(
    lab: Lab,
    base: Path,
    logical_id: str,
    props: dict[str, Any],
    context: dict[str, Any],
    notes: list[str],
    build_method: Any = None,
) -> str:
    def value(key: str, default: Any = None) -> Any:
        resolved = resolve(props.get(key, default), context)
        if resolved is UNRESOLVED:
            notes.append(f"{logical_id}: {key} uses an intrinsic function lambdalab cannot resolve; ignored")
            return default
        return resolved

    if value("PackageType", "Zip") != "Zip":
        raise Skip("PackageType Image is not supported")
    runtime = _runtime(logical_id, value("Runtime"), notes)
    handler = value("Handler")
    if not handler and runtime_ids.language(runtime) != "provided":  # a custom runtime's bootstrap may need none
        raise Skip("no Handler")
    name = str(value("FunctionName") or logical_id)
    env = {}
    environment = resolve(props.get("Environment"), context)
    variables = resolve(environment.get("Variables"), context) if isinstance(environment, dict) else environment
    if variables is UNRESOLVED:
        notes.append(f"{logical_id}: Environment uses an intrinsic function lambdalab cannot resolve; left out")
    variables = {} if variables is None or variables is UNRESOLVED else variables
    if not isinstance(variables, dict):
        raise Skip("Environment must be a mapping of Variables")
    for key, raw in variables.items():
        resolved = resolve(raw, context)
        if resolved is UNRESOLVED or resolved is None:
            notes.append(f"{logical_id}: environment variable {key} cannot be resolved; left out")
        else:
            env[key] = _env_value(resolved)
    options = {
        "runtime": runtime,
        "env_vars": env,
        "memory_mb": number(int, "MemorySize", value("MemorySize", 128)),
        "timeout_s": number(float, "Timeout", value("Timeout", 3)),
        "reserved_concurrency": value("ReservedConcurrentExecutions"),
    }
    if handler:
        options["handler"] = str(handler)
    options.update(template_parts.logging_options(logical_id, props.get("LoggingConfig"), context, notes))
    options.update(template_parts.snap_start_options(logical_id, props.get("SnapStart"), context))
    tenancy_config = resolve(props.get("TenancyConfig"), context)
    if tenancy_config is not None:  # tenant isolation: its SQS and stream events are then skipped with a note
        if not isinstance(tenancy_config, dict) or tenancy_config.get("TenantIsolationMode") != "PER_TENANT":
            raise Skip("TenancyConfig must be {TenantIsolationMode: PER_TENANT}")
        options["tenancy"] = "PER_TENANT"
    layers = template_parts.function_layers(props.get("Layers"), context)
    if layers:
        options["layers"] = layers
    inline = value("InlineCode")
    if inline is not None:
        lab.create_function(name, str(inline), **options)
        return name
    code_uri = value("CodeUri", ".")
    if not isinstance(code_uri, str):
        raise Skip("CodeUri must be a local folder or .zip (S3 locations are not supported)")
    folder = (base / code_uri).resolve()
    if not folder.exists():
        raise Skip(f"CodeUri {code_uri!r} does not exist")
    if runtime_ids.language(runtime) == "provided" and folder.is_dir() and not (folder / "bootstrap").exists():
        if build_method != "go1.x":
            if not layers:  # a layer may bring the bootstrap, as on Lambda
                raise Skip(
                    f"CodeUri {code_uri!r} holds no bootstrap (build it first, e.g. with sam build, or set "
                    "Metadata: BuildMethod: go1.x for a Go main package)"
                )
        else:
            with tempfile.TemporaryDirectory(prefix="lambdalab-sam-go-") as built:
                lab.create_function(name, path=_go_build(folder, Path(built), code_uri), **options)
            notes.append(f"{logical_id}: built with go build (Metadata BuildMethod go1.x)")
            return name
    lab.create_function(name, path=folder, **options)
    return name


def _env_value(value: Any) -> str:
    """A variable's value as SAM makes it a string: ``true``/``false`` for booleans, "" for a list or a mapping."""
    if isinstance(value, (dict, list, tuple)):
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _runtime(logical_id: str, runtime: Any, notes: list[str]) -> str:
    """A template's ``Runtime`` as the ``runtime=`` that serves it here (a version not installed: the one that is)."""
    if runtime is None:
        return "python"
    kind = runtime_ids.lambda_kind(runtime)
    if kind is None:
        raise Skip(
            f"Runtime {runtime} is not one lambdalab runs (python3.x, nodejsNN.x, provided.al2023, provided.al2)"
        )
    if kind == "python":
        if runtime != INTERPRETER:
            notes.append(
                f"{logical_id}: Runtime {runtime} is not installed here; served on {INTERPRETER} "
                f"(its Runtime reads {INTERPRETER})"
            )
        return "python"
    try:
        return runtime_catalog.resolve(runtime).identifier if kind == "nodejs" else str(runtime)
    except ConfigError:
        try:
            here = runtime_catalog.resolve("nodejs").identifier
        except ConfigError as exc:  # no Node.js at all: nothing to serve it on
            raise Skip(str(exc)) from None
    notes.append(f"{logical_id}: Runtime {runtime} is not installed here; served on {here} (its Runtime reads {here})")
    return here


def _go_build(folder: Path, out: Path, code_uri: str) -> Path:
    """``go build`` of a CodeUri folder into ``out/bootstrap`` (as sam build's go1.x does), offline.

    With ``custom_runtimes``' toolchain and environment (``go_env``: GOPROXY=off, its caches).
    """
    if not custom_runtimes.go_available():
        raise Skip(
            f"Metadata BuildMethod go1.x needs {custom_runtimes.GO_INSTALL}; or build the bootstrap "
            f"into {code_uri!r} yourself"
        )
    try:
        custom_runtimes.go_build(folder, out / "bootstrap")
    except custom_runtimes.GoBuildError as exc:
        if exc.output:
            raise Skip(f"go build failed (offline: GOPROXY=off): {exc.output.strip()[-400:]}") from None
        raise Skip(str(exc)) from None
    return out
