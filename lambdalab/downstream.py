"""Where a handler's AWS SDK sends its calls: endpoint URLs, the stand-in's fake credentials, SAM's env-vars file.

``aws_endpoint_url`` (on ``Lab`` or one function) is a URL, set as ``AWS_ENDPOINT_URL`` in every environment (every
SDK client goes there), or a mapping of services to URLs, set as the SDK's per-service variables. A service is
named as boto3 names its client (``"s3"``, ``"dynamodb"``, ``"cognito-idp"``) or by its service id
(``"Cognito Identity Provider"``); the variable is botocore's: ``AWS_ENDPOINT_URL_`` then the service id with spaces
and dashes as ``_``, upper-cased (``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL_DYNAMODB``,
``AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER``).

With an endpoint URL and no ``role_credentials``, environments get ``FAKE_CREDENTIALS``: obviously not a key of
anyone's, so a local stand-in (moto, LocalStack) accepts the signed call and nothing real is ever sent. The
owner's credentials (its environment, ``~/.aws``) never reach an environment either way (``engine/runtimes.py``).

``env_vars_file`` reads the file of ``lambdalab serve --env-vars`` as ``sam local`` reads it:
``{"Parameters": {...}, "LogicalId": {...}}``, the function's own entry over ``Parameters``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from lambdalab.errors import ConfigError

GLOBAL_VARIABLE = "AWS_ENDPOINT_URL"
# what a handler's SDK signs with when it calls a stand-in and the Lab was given no role credentials
FAKE_CREDENTIALS = {
    "AccessKeyId": "LAMBDALABFAKEKEY0000",
    "SecretAccessKey": "lambdalab-fake-secret",
    "SessionToken": "lambdalab-fake-token",
}
# role_credentials as boto3 spells them (aws_access_key_id=...) -> as STS answers (AccessKeyId), which the engine takes
CREDENTIAL_NAMES = {
    "aws_access_key_id": "AccessKeyId",
    "aws_secret_access_key": "SecretAccessKey",
    "aws_session_token": "SessionToken",
}
_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s]*)?\Z")
_SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,63}\Z")
EndpointUrl = str | Mapping[str, str] | None


def normalise_credentials(value: object) -> object:
    """``role_credentials`` with boto3's spellings (``aws_access_key_id``...) renamed to STS's (``AccessKeyId``...);
    anything else as given, for ``config.check_lab_options`` to judge."""
    if not isinstance(value, Mapping):
        return value
    return {CREDENTIAL_NAMES.get(k, k) if isinstance(k, str) else k: v for k, v in value.items()}


def check_endpoint_url(value: object, field: str = "aws_endpoint_url") -> EndpointUrl:
    """``value`` checked (``ConfigError``): None, an http(s) URL, or {service: URL}; a mapping comes back as a dict."""
    expected = "None, an http(s) URL, or a mapping of services (boto3's client names: 's3', 'dynamodb') to URLs"
    if value is None:
        return None
    if isinstance(value, str):
        if not _URL.match(value):
            raise ConfigError(f"invalid {field}: {value!r}; expected {expected}")
        return value
    if isinstance(value, Mapping) and value:
        for service, url in value.items():
            if not (isinstance(service, str) and _SERVICE.match(service) and isinstance(url, str) and _URL.match(url)):
                raise ConfigError(f"invalid {field}: {service!r}: {url!r}; expected {expected}")
        variables = [variable_name(s) for s in value]
        if len(set(variables)) != len(variables):
            raise ConfigError(f"invalid {field}: {dict(value)!r} names one service twice ({', '.join(variables)})")
        return dict(value)
    raise ConfigError(f"invalid {field}: {value!r}; expected {expected}")


@functools.lru_cache(maxsize=256)
def variable_name(service: str) -> str:
    """botocore's variable for ``service``: its client name's service id, spaces and dashes as ``_``, upper-cased."""
    if " " in service:  # a service id as the API model spells it ("Cognito Identity Provider")
        hyphenated = service.replace(" ", "-").lower()
    else:
        try:  # boto3 is a dependency: its own table of client names whose service id differs
            from botocore import utils
        except ImportError:  # pragma: no cover - boto3 is installed with lambdalab
            hyphenated = service
        else:
            name = utils.SERVICE_NAME_ALIASES.get(service, service)
            hyphenated = utils.CLIENT_NAME_TO_HYPHENIZED_SERVICE_ID_OVERRIDES.get(name, name)
    return f"{GLOBAL_VARIABLE}_{hyphenated.replace('-', '_').upper()}"


def endpoint_variables(value: EndpointUrl) -> dict[str, str]:
    """The SDK's variables for a checked ``aws_endpoint_url``: ``{"AWS_ENDPOINT_URL_S3": url, ...}``."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {GLOBAL_VARIABLE: value}
    return {variable_name(service): url for service, url in value.items()}


# -- SAM's --env-vars file -------------------------------------------------------------------------
PARAMETERS = "Parameters"


def read_env_vars_file(path: str | Path) -> dict[str, dict[str, str]]:
    """The file of ``--env-vars`` (JSON): every top-level value an object of variables (``ConfigError`` else), each
    value a string as SAM makes it (``true``/``false`` for booleans, "" for null, a list or an object)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"invalid env-vars file {str(path)!r}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"invalid env-vars file {str(path)!r}: expected a JSON object of functions' variables")
    out: dict[str, dict[str, str]] = {}
    for key, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(
                f"invalid env-vars file {str(path)!r}: Environment variables {values!r} in incorrect format"
            )
        out[key] = {str(name): _stringify(v) for name, v in values.items()}
    return out


def _stringify(value: Any) -> str:
    if value is None or isinstance(value, (dict, list, tuple)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def overrides_for(
    file: Mapping[str, Mapping[str, str]],
    ids: Iterable[str],
    declared: Iterable[str] | None,
) -> dict[str, str]:
    """What the env-vars file sets for one function, as SAM resolves it: ``Parameters``, then the first of the
    function's ``ids`` (its logical id, then its name) that has an entry; only the variables the function
    ``declared`` (its template's ``Environment.Variables``), or every one when ``declared`` is None (no template)."""
    merged = dict(file.get(PARAMETERS, {}))
    own = next((file[i] for i in ids if i != PARAMETERS and file.get(i)), None)
    merged.update(own or {})
    if declared is not None:
        names = set(declared)
        merged = {k: v for k, v in merged.items() if k in names}
    return merged


FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


def template_functions(
    template: Mapping[str, Any], name_of: Callable[[Any], object] | None = None
) -> list[tuple[str, str, frozenset[str]]]:
    """Each function resource of a template read as data: (logical id, its name here, the variables it declares),
    the name being its ``FunctionName`` (an intrinsic one as ``name_of`` resolves it, as the template loader does;
    the logical id when it gives no string), the variables its own ``Environment.Variables`` and, for a SAM
    function, ``Globals.Function``'s."""
    globals_ = template.get("Globals")
    defaults = globals_.get("Function") if isinstance(globals_, Mapping) else None
    shared = _declared(defaults) if isinstance(defaults, Mapping) else frozenset()
    found = []
    resources = template.get("Resources")
    for logical_id, resource in resources.items() if isinstance(resources, Mapping) else ():
        if not isinstance(resource, Mapping) or resource.get("Type") not in FUNCTION_TYPES:
            continue
        props = resource.get("Properties")
        props = props if isinstance(props, Mapping) else {}
        name = props.get("FunctionName")
        if name is not None and not isinstance(name, str) and name_of is not None:
            name = name_of(name)
        ignored = resource.get("IgnoreGlobals")  # a resource attribute (SAM): "*" or the globals it does not take
        takes_globals = resource.get("Type") == FUNCTION_TYPES[0] and not (
            ignored == "*" or (isinstance(ignored, list) and "Environment" in ignored)
        )
        declared = _declared(props) | (shared if takes_globals else frozenset())
        found.append((str(logical_id), name if isinstance(name, str) and name else str(logical_id), declared))
    return found


def _declared(props: Mapping[str, Any]) -> frozenset[str]:
    environment = props.get("Environment")
    variables = environment.get("Variables") if isinstance(environment, Mapping) else None
    return frozenset(str(k) for k in variables) if isinstance(variables, Mapping) else frozenset()
