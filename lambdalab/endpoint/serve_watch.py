"""What ``lambdalab serve`` does with ``--env-vars`` and ``--watch`` once a folder or template is loaded.

``apply_env_vars``: SAM's env-vars file (``lambdalab.downstream``) over the loaded functions: ``Parameters`` for every
function, a function's own entry (by logical id, then name) over them, and, as ``sam local`` does, only the
variables the template declares for that function; in folder mode, where nothing declares any, all of them. A
``FunctionName`` that is an intrinsic (``!Sub "${AWS::StackName}-hello"``) is resolved as the template loader
resolves it, so the function's entries match.

``serve_watcher``: one ``Watcher`` on the template and every function's code (file or folder, its requirements
file with it). A code change redeploys the functions it belongs to; a template change reads the template again in a
throwaway Lab and applies what changed in each function's settings and code (``Function.update``), so the
endpoint, the function URLs and the queues stay as they are; a function added to or removed from the template
waits for a restart (said in a line), and what is watched follows the template (a new ``CodeUri`` folder). Each
redeploy retires the function's environments: the next invoke is cold. A function with ``AutoPublishAlias`` gets a
new version and its alias moves to it on each reload, as each ``sam deploy`` does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalab.config import RESERVED_ENV_VARS
from lambdalab.downstream import overrides_for, template_functions
from lambdalab.endpoint import template_globals, template_sources, template_urls
from lambdalab.endpoint.template_values import MAPPINGS, UNRESOLVED, Skip, resolve
from lambdalab.watch import Watcher

if TYPE_CHECKING:
    from lambdalab.api import Lab
    from lambdalab.function import Function

TEMPLATE_NAMES = ("template.yaml", "template.yml", "template.json")
# settings a template does not give: serve's own (--debug-port) stay as they are across template reloads
_NOT_FROM_TEMPLATE = frozenset({"name", "debug"})
Say = Callable[[str], Any]


def template_of(folder: str | Path, template: str | Path | None) -> Path | None:
    """The template ``serve`` reads: ``--template``, else one in the folder (as ``load_folder`` looks for it)."""
    if template is not None:
        return Path(template)
    root = Path(folder)
    return next((root / n for n in TEMPLATE_NAMES if root.is_dir() and (root / n).is_file()), None)


def _context(lab: Lab, data: Mapping[str, Any]) -> dict[str, Any]:
    """What ``FunctionName`` and ``AutoPublishAlias`` resolve from, as ``load_template`` resolves them: the
    parameters' defaults, the pseudo parameters (the stack named ``lambdalab``) and ``Mappings``."""
    parameters = data.get("Parameters")
    context: dict[str, Any] = {
        k: v.get("Default")
        for k, v in (parameters.items() if isinstance(parameters, Mapping) else ())
        if isinstance(v, dict)
    }
    mappings = data.get("Mappings")
    context.update(
        {
            "AWS::Region": lab.settings.region,
            "AWS::AccountId": lab.settings.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "lambdalab",
            MAPPINGS: mappings if isinstance(mappings, dict) else {},
        }
    )
    return context


@dataclasses.dataclass
class TemplateView:
    """A template's functions by the name each is served under: its ids for the env-vars file (logical id, name),
    the variables it declares, and its ``AutoPublishAlias``."""

    ids: dict[str, list[str]]
    declared: dict[str, frozenset[str]]
    aliases: dict[str, str]


def template_view(lab: Lab, template: Path) -> TemplateView:
    """``template`` read as ``load_template`` names its functions (``FunctionName`` resolved, else the logical id)."""
    from lambdalab.endpoint.templates import read_template

    data = read_template(template)
    context = _context(lab, data)

    def name_of(value: Any) -> object:
        resolved = resolve(value, context)
        return None if resolved is UNRESOLVED else resolved

    view = TemplateView({}, {}, {})
    by_id: dict[str, str] = {}
    for logical_id, name, variables in template_functions(data, name_of):
        view.ids[name], view.declared[name], by_id[logical_id] = [logical_id, name], variables, name
    defaults = template_globals.function_globals(data, [])
    resources = data.get("Resources")
    for logical_id, resource in resources.items() if isinstance(resources, dict) else ():
        if (
            logical_id not in by_id
            or not isinstance(resource, dict)
            or resource.get("Type") != "AWS::Serverless::Function"
        ):
            continue
        props = resource.get("Properties")
        try:
            merged = template_globals.merge(
                logical_id, defaults, props if isinstance(props, dict) else {}, resource.get("IgnoreGlobals")
            )
            alias = template_sources.check_alias(logical_id, merged, context)
        except Skip:
            continue
        if alias is not None:
            view.aliases[by_id[logical_id]] = alias
    return view


def apply_env_vars(
    lab: Lab, names: list[str], file: Mapping[str, Mapping[str, str]], template: Path | None
) -> list[str]:
    """Set each function's variables from the env-vars ``file``; returns notes (names Lambda reserves, left out)."""
    view = template_view(lab, template) if template is not None else TemplateView({}, {}, {})
    notes = []
    for name in names:
        fn = lab.function(name)
        declared = view.declared.get(name, frozenset()) if template is not None else None
        wanted = overrides_for(file, view.ids.get(name, [name]), declared)
        reserved = sorted(set(wanted) & RESERVED_ENV_VARS)
        if reserved:
            notes.append(f"{name}: env-vars {', '.join(reserved)} reserved by Lambda; left out")
        wanted = {k: v for k, v in wanted.items() if k not in RESERVED_ENV_VARS}
        if any(fn.config.env_vars.get(k) != v for k, v in wanted.items()):
            fn.update(env_vars={**fn.config.env_vars, **wanted})
    return notes


def publish_alias(fn: Function, alias: str | None) -> str:
    """After a reload, ``AutoPublishAlias`` as ``sam deploy`` does it: a new version, the alias moved to it; what
    to add to the reload's line ("" without an alias)."""
    if alias is None:
        return ""
    version = fn.publish()
    if alias in fn.aliases():
        fn.update_alias(alias, version)
    else:
        fn.create_alias(alias, version)
    return f"; alias {alias} -> version {version}"


def serve_watcher(
    lab: Lab,
    names: list[str],
    template: Path | None,
    env_file: Mapping[str, Mapping[str, str]] | None,
    say: Say,
    debounce_ms: int = 200,
    on_template: Callable[[Path], Any] | None = None,
) -> Watcher:
    """Watch ``template`` and the code of ``names``; redeploy on change, telling ``say`` what happened.
    ``on_template(path)`` runs after the functions took a template edit (``serve --api`` reads its routes again)."""
    functions = [lab.function(n) for n in names]
    resolved_template = template.resolve() if template is not None else None
    aliases = template_view(lab, template).aliases if template is not None else {}
    watchers: list[Watcher] = []

    def paths() -> list[Path]:
        return [p for p in [template, *(fn.source_path for fn in functions)] if p is not None and p.exists()]

    def action(changed: set[Path]) -> None:
        if resolved_template is not None and resolved_template in changed:
            try:
                aliases.clear()
                aliases.update(_reload_template(lab, names, resolved_template, env_file, say))
                if on_template is not None:
                    on_template(resolved_template)
            finally:
                watchers[0].watch_paths(paths())  # a CodeUri the template now names is watched from now on
            return
        for fn in functions:
            root = fn.source_path
            if root is not None and any(p == root or p.is_relative_to(root) for p in changed):
                fn.update(path=root)
                published = publish_alias(fn, aliases.get(fn.name))
                say(f"lambdalab: reloaded {fn.name} (code {fn.code_sha[:12]}{published}); its next invoke is cold")

    def failed(exc: Exception) -> None:
        say(f"lambdalab: reload failed, still serving the previous code: {exc}")

    watchers.append(Watcher(paths(), action, debounce_ms=debounce_ms, on_error=failed))
    return watchers[0]


def _reload_template(
    lab: Lab, names: list[str], template: Path, env_file: Mapping[str, Mapping[str, str]] | None, say: Say
) -> dict[str, str]:
    """The template read again in a throwaway Lab; each served function updated where its settings or code differ
    (and its ``AutoPublishAlias`` moved to a new version); returns the template's aliases now."""
    from lambdalab.api import Lab
    from lambdalab.endpoint.templates import load_template

    s = lab.settings
    with Lab(
        region=s.region,
        account_id=s.account_id,
        init_timeout_s=s.init_timeout_s,
        use_cgroups=False,
        aws_endpoint_url=s.aws_endpoint_url,
    ) as scratch:
        scratch.map_layers(lab.map_layers({}))
        new_names, notes = load_template(scratch, template)
        if env_file is not None:
            apply_env_vars(scratch, new_names, env_file, template)
        declared_urls = template_urls.registry_of(scratch).specs
        untrue = {_waiting_note(spec) for spec in declared_urls.values()}  # the scratch Lab never serves
        for note in notes:
            if note not in untrue:
                say(f"lambdalab: {note}")
        aliases = template_view(lab, template).aliases
        for name in sorted(set(new_names) - set(names)):
            say(f"lambdalab: {name} is new in {template.name}: restart lambdalab serve to serve it")
        for name in sorted(set(names) - set(new_names)):
            say(f"lambdalab: {name} is no longer in {template.name}: still served until a restart")
        failed: list[Exception] = []
        for name in [n for n in names if n in new_names]:
            old, new = lab.function(name), scratch.function(name)
            changes = {
                f.name: getattr(new.config, f.name)
                for f in dataclasses.fields(new.config)
                if f.name not in _NOT_FROM_TEMPLATE and getattr(new.config, f.name) != getattr(old.config, f.name)
            }
            # the code as the template now names it: its folder or file, or (inline code) what the scratch Lab wrote
            source = new.source_path or new.version_info().code_folder
            try:
                old.update(path=source, **changes)
                published = publish_alias(old, aliases.get(name))
            except Exception as exc:  # noqa: BLE001 - one function's failure leaves the others to reload
                say(f"lambdalab: {name} not reloaded, still serving its previous code: {exc}")
                failed.append(exc)
                continue
            if new.source_path is not None:
                old.source_path = new.source_path
            what = ", ".join(sorted(changes)) or "code"
            say(f"lambdalab: reloaded {name} from {template.name} ({what}; code {old.code_sha[:12]}{published})")
        _reload_urls(lab, names, declared_urls, template, say)
        if failed:
            raise failed[0]  # the watcher keeps it in its errors
        return aliases


def _waiting_note(spec: template_urls.UrlSpec) -> str:
    """The note ``template_urls.add`` writes for a URL kept until the Lab serves."""
    return (
        f"{spec.logical_id}: function URL for {spec.target} ({template_urls.describe(spec)}), made once the Lab serves"
    )


def _url_settings(spec: template_urls.UrlSpec) -> tuple[Any, ...]:
    cors = spec.cors
    allowed: tuple[Any, ...] | None = None
    if cors is not None:
        allowed = (cors.allow_origins, cors.allow_methods, cors.allow_headers, cors.expose_headers)
        allowed += (cors.max_age, cors.allow_credentials)
    return (spec.auth_type, spec.invoke_mode, allowed)


def _reload_urls(
    lab: Lab,
    names: list[str],
    declared: dict[tuple[str, str | None], template_urls.UrlSpec],
    template: Path,
    say: Say,
) -> None:
    """The template's function URLs as they are now, for the served functions: a URL whose settings changed
    takes them (the same URL), a new one is made (once the Lab serves), one no longer declared stays until a
    restart."""
    registry = template_urls.registry_of(lab)
    for key, spec in registry.specs.items():
        if key not in declared:
            say(
                f"lambdalab: {spec.logical_id}: function URL for {spec.target} is no longer in {template.name}: "
                "still served until a restart"
            )
    changed = [
        spec
        for key, spec in declared.items()
        if spec.name in names
        and (key not in registry.specs or _url_settings(registry.specs[key]) != _url_settings(spec))
    ]
    if not changed:
        return
    for spec in changed:
        registry.specs[(spec.name, spec.qualifier)] = spec
    registry.waiting.extend(changed)
    if template_urls.endpoint_of(lab) is None:
        for spec in changed:
            say(f"lambdalab: {_waiting_note(spec)}")
        return
    for spec, url in template_urls.make(lab):
        say(f"lambdalab: {spec.logical_id}: function URL {url} for {spec.target} ({template_urls.describe(spec)})")
