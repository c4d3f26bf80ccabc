"""Python runtime process for lambdalab: our stand-in for awslambdaric.

The engine starts it as ``python -I -u python_bootstrap.py`` with cwd = the task root. It owns:
  * the Runtime API client (2018-06-01): one keep-alive HTTP/1.1 connection to $AWS_LAMBDA_RUNTIME_API;
  * Init: resolving and importing $_HANDLER, and reporting failures to /runtime/init/error;
  * the invoke loop: event unmarshalling, the ``context`` object, result marshalling, error reports;
  * Lambda-style logs on stdout: the root ``logging`` handler and the one-line ``[ERROR]`` records.

Rules:
  * stdlib only; never imports ``lambdalab`` (this file runs as a plain script inside the sandbox).
  * Cold start is measured, so start-up imports only json, os, socket, sys and time. Anything else
    (importlib, traceback, logging) is imported on the path that needs it, always from the standard
    library: the task root comes first on sys.path, and a ``logging.py`` there must not replace ours.
  * Faithful to awslambdaric 4.x: same error types, messages and JSON shapes (AWS docs: the Runtime API,
    the Python context object, Python logging and Python errors pages).
  * If the platform goes away (EOF or socket error) the process exits 0 without a word.
"""

import json
import os
import socket
import sys
import time

# Types for mypy only: nothing more is imported at start-up, and annotations that name these are strings.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import types
    from collections.abc import Iterable, Sequence
    from importlib.abc import Loader as _LoaderBase
    from importlib.machinery import ModuleSpec
    from typing import Any, NoReturn, TypedDict

    class ErrorBody(TypedDict):
        """The JSON body of /init/error and /invocation/{id}/error, and of the ``[ERROR]`` log line."""

        errorMessage: str
        errorType: str
        requestId: str
        stackTrace: list[str]
else:
    _LoaderBase = object

RUNTIME_PATH = "/2018-06-01/runtime"
LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
LOG_DATEFMT = "%Y-%m-%dT%H:%M:%S"
LOG_LEVEL_ALIASES = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}
INIT_ERROR_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, in "
    "rare cases, a Lambda runtime update can cause unexpected function behavior. For functions using managed "
    "runtimes, runtime updates can be triggered by a function change, or can be applied automatically. To "
    "determine if the runtime has been updated, check the runtime version in the INIT_START log entry. If this "
    "error correlates with a change in the runtime version, you may be able to mitigate this error by "
    "temporarily rolling back to the previous runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)

_request_id = ""  # the current invoke's id, stamped on every log record as aws_request_id
_tenant_id: "str | None" = None  # the current invoke's tenant (tenant isolation), stamped as tenant_id (JSON tenantId)
# LoggingConfig.LogFormat=JSON: logging records and error records as Lambda's JSON objects, one a line
_JSON_LOGS = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
JSON_DATEFMT = "%Y-%m-%dT%H:%M:%SZ"  # second precision, as awslambdaric's JsonFormatter
# LogRecord attributes that are not ``extra=`` fields (awslambdaric's reserved set, and ours)
_RECORD_FIELDS = frozenset(
    "name msg args levelname levelno pathname filename module exc_info exc_text stack_info lineno funcName created "
    "msecs relativeCreated thread threadName processName process taskName aws_request_id tenant_id _frame_type".split()
)


def _platform_gone() -> "NoReturn":
    """The Runtime API closed or broke: the platform is gone, so leave quietly (no atexit hooks, like a SIGKILL)."""
    _flush_std()
    os._exit(0)


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # user code may have closed or replaced the stream
            pass


# ---------------------------------------------------------------------------------------------- HTTP client
class RuntimeAPI:
    """A minimal HTTP/1.1 client on one persistent connection. Responses always carry Content-Length."""

    def __init__(self, address: str) -> None:
        self.address = address
        host, _, port = address.rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        self.buf = bytearray()
        self.sock: socket.socket | None = None

    def connect(self) -> "socket.socket":
        # A bytes host keeps getaddrinfo from importing the idna codec (about 2 ms).
        # (typeshed allows only a str host; a bytes one is what the C function wants anyway)
        sock = self.sock = socket.create_connection((self.host.encode(), self.port))  # type: ignore[arg-type]
        sock.settimeout(None)  # never time out on /next, whatever socket.setdefaulttimeout() says
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def request(
        self, method: str, path: str, body: bytes = b"", headers: str = "", then: str = ""
    ) -> "tuple[int, dict[str, str], bytes | bytearray]":
        """Send one request; return (status, headers with lower-case names, body). Exits if the platform is gone.

        ``then``: the path of a ``GET`` sent right behind it on the same connection (HTTP/1.1 pipelining), whose
        answer is returned instead; the first answer is read and dropped. The invoke loop posts each result with
        the next ``/next`` behind it: the runtime carries on whatever ``/response`` answers (202, or 413), so one
        write and one wake-up less per invoke, and the platform sees the runtime ask for more at once."""
        head = f"{method} {RUNTIME_PATH}{path} HTTP/1.1\r\nHost: {self.address}\r\nContent-Length: {len(body)}\r\n"
        encoded = (head + headers + "\r\n").encode()
        follow = f"GET {RUNTIME_PATH}{then} HTTP/1.1\r\nHost: {self.address}\r\n\r\n".encode() if then else b""
        try:
            sock = self.sock if self.sock is not None else self.connect()
            if len(body) < 65536:
                sock.sendall(encoded + body + follow)
            else:  # avoid copying a multi-megabyte body
                sock.sendall(encoded)
                sock.sendall(body)
                if follow:
                    sock.sendall(follow)
            answer = self._answer(sock)
            if not follow:
                return answer
            if self.sock is None:  # the platform closed after the first answer: ask again on a new connection
                return self.request("GET", then)
            return self._answer(sock)
        except OSError:
            _platform_gone()

    def _answer(self, sock: "socket.socket") -> "tuple[int, dict[str, str], bytes | bytearray]":
        status, response_headers = self._read_head(sock)
        response_body = self._read_body(sock, int(response_headers.get("content-length", "0")))
        if response_headers.get("connection", "").lower() == "close":
            sock.close()
            self.sock = None
        return status, response_headers, response_body

    def _recv(self, sock: "socket.socket") -> None:
        data = sock.recv(65536)
        if not data:
            _platform_gone()
        self.buf += data

    def _read_head(self, sock: "socket.socket") -> "tuple[int, dict[str, str]]":
        buf, start = self.buf, 0
        while (end := buf.find(b"\r\n\r\n", start)) < 0:
            start = max(0, len(buf) - 3)
            self._recv(sock)
        lines = buf[:end].decode("latin-1").split("\r\n")
        del buf[: end + 4]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(lines[0].split(None, 2)[1]), headers

    def _read_body(self, sock: "socket.socket", length: int) -> "bytes | bytearray":
        """The next ``length`` bytes (a large body as a bytearray, received in place)."""
        buf = self.buf
        if len(buf) >= length:
            body = bytes(buf[:length])
            del buf[:length]
            return body
        whole = bytearray(length)  # large body: receive straight into place
        got = len(buf)
        whole[:got] = buf
        buf.clear()
        with memoryview(whole) as view:
            while got < length:
                n = sock.recv_into(view[got:])
                if not n:
                    _platform_gone()
                got += n
        return whole


# ------------------------------------------------------------------------------------------ own modules
class _RuntimeModules:
    """sys.meta_path finder: the runtime's own modules come from the standard library, whatever sys.path says.

    On Lambda the runtime imports its modules (logging, traceback, decimal, ...) before the handler, so a
    ``traceback.py`` in the task root never replaces them, while the handler's other imports follow sys.path
    (task root first). This runtime imports most of them lazily, after the task root is on sys.path: for
    those names, and for whatever the runtime imports itself (``depth`` > 0, any name), only the standard
    library's directories are searched. A name the standard library lacks falls through to sys.path.
    """

    STDLIB: "list[str]" = list(
        sys.path
    )  # started with -I -S: exactly the standard library (zip, directory, lib-dynload)
    NAMES = frozenset(
        (
            # imported lazily by this runtime (traceback, logging, importlib), with what they import
            "traceback",
            "linecache",
            "tokenize",
            "token",
            "logging",
            "string",
            "threading",
            "warnings",
            "weakref",
            "_weakrefset",
            "contextlib",
            "importlib",
            "textwrap",
            # what else awslambdaric has imported before it loads the handler
            "decimal",
            "_decimal",
            "_pydecimal",
            "numbers",
            "__future__",
        )
    )
    depth = 0

    @classmethod
    def find_spec(
        cls, name: str, path: "Sequence[str] | None" = None, target: "types.ModuleType | None" = None
    ) -> "ModuleSpec | None":
        if path is not None or not (cls.depth or name in cls.NAMES):
            return None
        return _PATH_FINDER.find_spec(name, cls.STDLIB, target)


def _own_import(name: str) -> "types.ModuleType":
    """Import one of the runtime's own modules (and what it imports) from the standard library."""
    module = sys.modules.get(name)
    if module is None:
        _RuntimeModules.depth += 1
        try:
            module = __import__(name)
        finally:
            _RuntimeModules.depth -= 1
    return module


_PATH_FINDER = next(f for f in sys.meta_path if getattr(f, "__name__", "") == "PathFinder")


# ------------------------------------------------------------------------------------------------ logging
class _LoggingHook:
    """sys.meta_path finder: whoever imports ``logging`` first gets it with our root handler already installed.

    This keeps ``logging`` (about 9 ms measured here) out of the cold start while guaranteeing that the handler
    exists before user code can log or call basicConfig (which is then a no-op, as on Lambda).
    """

    @classmethod
    def find_spec(
        cls, name: str, path: "Sequence[str] | None" = None, target: "types.ModuleType | None" = None
    ) -> "ModuleSpec | None":
        if name != "logging":
            return None
        sys.meta_path.remove(cls)
        for finder in sys.meta_path:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _LoggingLoader(spec.loader)
                return spec
        return None


class _LoggingLoader(_LoaderBase):
    """Runs ``logging``'s own loader, then installs the root handler (a Loader; the base is only named for mypy)."""

    def __init__(self, loader: "_LoaderBase") -> None:
        self.loader = loader

    def create_module(self, spec: "ModuleSpec") -> "types.ModuleType | None":
        return self.loader.create_module(spec)

    def exec_module(self, module: "types.ModuleType") -> None:
        module.__loader__ = self.loader  # hide the wrapper from now on
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        _RuntimeModules.depth += 1  # what logging imports is the runtime's too
        try:
            self.loader.exec_module(module)
        finally:
            _RuntimeModules.depth -= 1
        _install_logging()


def _install_logging() -> None:
    """Our root handler on ``logging`` (already in sys.modules: being loaded, or imported before us)."""
    import logging

    class RequestIdFilter(logging.Filter):
        def filter(self, record: "logging.LogRecord") -> bool:
            record.aws_request_id = _request_id
            record.tenant_id = _tenant_id
            return True

    class StdoutHandler(logging.Handler):
        def emit(self, record: "logging.LogRecord") -> None:  # looks sys.stdout up on every record, like awslambdaric's
            try:
                sys.stdout.write(self.format(record))
            except Exception:
                self.handleError(record)

    logging.Formatter.converter = time.gmtime  # awslambdaric makes every formatter UTC, not just ours
    handler = StdoutHandler()
    handler.setFormatter(_json_formatter(logging) if _JSON_LOGS else logging.Formatter(LOG_FORMAT, LOG_DATEFMT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    name = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = logging.getLevelName(LOG_LEVEL_ALIASES.get(name, name)) if name else None
    if isinstance(level, int):
        root.setLevel(level)


def _json_formatter(logging: "types.ModuleType") -> "Any":
    """Lambda's JSON application record (awslambdaric's fields): one object a line, ``None`` values left out."""

    class JsonFormatter(logging.Formatter):  # type: ignore[name-defined,misc]
        def format(self, record: "Any") -> str:
            record.levelno = min(50, max(0, record.levelno)) // 10 * 10  # a custom level reads as its decade's
            record.levelname = logging.getLevelName(record.levelno)
            out: dict[str, Any] = {
                "timestamp": self.formatTime(record, JSON_DATEFMT),
                "level": record.levelname,
                "message": record.getMessage(),
                "logger": record.name,
                "requestId": getattr(record, "aws_request_id", None),
            }
            exc = record.exc_info
            if exc and exc[0] is not None:
                traceback = _own_import("traceback")
                out["stackTrace"] = traceback.format_tb(exc[2])
                out["errorType"] = exc[0].__name__
                out["errorMessage"] = str(exc[1])
                out["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
            if getattr(record, "tenant_id", None) is not None:
                out["tenantId"] = record.tenant_id
            for key, value in record.__dict__.items():
                if key not in _RECORD_FIELDS and key not in out:
                    out[key] = value
            return _JSON_LOG_ENCODER.encode({k: v for k, v in out.items() if v is not None}) + "\n"

    return JsonFormatter()


def _log_error(error: "ErrorBody") -> None:
    """Write an error record the way the runtime does on stdout: one line, \\r between lines, NBSP indents.

    Under the JSON format, one object: ``timestamp``, ``level`` ERROR and the error body (awslambdaric 4.2's;
    its earlier releases spelled the key ``log_level``)."""
    if _JSON_LOGS:
        stamp = time.strftime(JSON_DATEFMT, time.gmtime())
        sys.stdout.write(_JSON_LOG_ENCODER.encode({"timestamp": stamp, "level": "ERROR", **error}) + "\n")
        _flush_std()
        return
    description = "[ERROR]"
    if error["errorType"]:
        description += " " + error["errorType"] + (":" if error["errorMessage"] else "")
    if error["errorMessage"]:
        description += " " + error["errorMessage"]
    lines = [description, "Traceback (most recent call last):"]  # printed even with an empty stack, like Lambda
    for element in error["stackTrace"]:
        for line in element.splitlines() or [""]:
            stripped = line.lstrip(" ")
            lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    sys.stdout.write("\r".join(lines) + "\n")
    _flush_std()


# ------------------------------------------------------------------------------------------ errors and JSON
class _Fault(Exception):
    """A runtime-detected failure with a Lambda error type (Runtime.*)."""

    def __init__(self, error_type: str, message: str, stack_trace: "Iterable[str]" = ()) -> None:
        super().__init__(message)
        self.error_type, self.message, self.stack_trace = error_type, message, list(stack_trace)


def _error(error_type: str, message: str, stack_trace: "list[str] | None", request_id: str) -> "ErrorBody":
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id,
        "stackTrace": stack_trace or [],
    }


def _exception_error(exc: "BaseException", request_id: str) -> "ErrorBody":
    """The error body for an exception raised in user code (its frames only: the first is ours)."""
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    traceback = _own_import("traceback")
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]  # tuples: no carets
    try:
        message = str(exc)
    except Exception:
        message = "<exception str() failed>"
    return _error(type(exc).__name__, message, traceback.format_list(frames), request_id)


def _json_default(obj: object) -> "int | float":
    decimal = sys.modules.get("decimal")  # an object can only be a Decimal if somebody imported decimal
    if decimal is not None and isinstance(obj, decimal.Decimal):
        if obj.is_finite() and obj.as_tuple().exponent >= 0:
            return int(obj)
        return float(obj)  # also NaN and Infinity, which we allow, like simplejson
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_JSON_LOG_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)  # extra= values that are not JSON: str()


def _make_encoder() -> "json.JSONEncoder":
    # awslambdaric emits raw UTF-8 (ensure_ascii=False) on python3.12+; without AWS_EXECUTION_ENV, go by ourselves.
    prefix, env = "AWS_Lambda_python3.", os.environ.get("AWS_EXECUTION_ENV", "")
    if env.startswith(prefix) and env[len(prefix) :].isdigit():
        modern = int(env[len(prefix) :]) >= 12
    else:
        modern = sys.version_info >= (3, 12)
    return json.JSONEncoder(ensure_ascii=not modern, allow_nan=True, default=_json_default)


# ------------------------------------------------------------------------------------------------- context
class _Record:
    """A plain object built from a dict: one attribute per slot, None when the key is absent."""

    __slots__: "tuple[str, ...]" = ()

    def __init__(self, fields: "dict[str, Any]") -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    def __repr__(self) -> str:
        fields = ",".join(f"{n}={getattr(self, n)}" for n in self.__slots__ if not n.startswith("_"))
        return f"{type(self).__name__}([{fields}])"


class CognitoIdentity(_Record):
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")
    cognito_identity_id: "str | None"
    cognito_identity_pool_id: "str | None"


class Client(_Record):
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")


class ClientContext(_Record):
    __slots__ = ("custom", "env", "client")
    custom: "Any"
    env: "Any"
    client: "Client | Any"


class LambdaContext(_Record):
    __slots__ = (
        "aws_request_id",
        "log_group_name",
        "log_stream_name",
        "function_name",
        "memory_limit_in_mb",
        "function_version",
        "invoked_function_arn",
        "client_context",
        "identity",
        "tenant_id",
        "_deadline_ms",
    )
    aws_request_id: str
    invoked_function_arn: "str | None"
    client_context: "ClientContext | None"
    identity: "CognitoIdentity"
    _deadline_ms: int

    def __init__(self, request_id: str, headers: "dict[str, str]") -> None:
        # each slot set here, not through _Record's loop: this runs on every invoke
        env = os.environ
        self.aws_request_id = request_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # a string, as on Lambda
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn")
        self.tenant_id = headers.get("lambda-runtime-aws-tenant-id")
        self._deadline_ms = int(headers.get("lambda-runtime-deadline-ms") or 0)
        identity = _json_header(headers, "lambda-runtime-cognito-identity", "Cognito Identity") or {}
        self.identity = CognitoIdentity(
            {
                "cognito_identity_id": identity.get("cognitoIdentityId"),
                "cognito_identity_pool_id": identity.get("cognitoIdentityPoolId"),
            }
        )
        fields = _json_header(headers, "lambda-runtime-client-context", "Client Context")
        client_context = None if fields is None else ClientContext(fields)
        if client_context is not None and isinstance(client_context.client, dict):
            client_context.client = Client(client_context.client)
        self.client_context = client_context

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, msg: object) -> None:
        sys.stdout.write(str(msg))
        sys.stdout.flush()


def _json_header(headers: "dict[str, str]", name: str, label: str) -> "dict[str, Any] | None":
    text = headers.get(name)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise _Fault("Runtime.LambdaContextUnmarshalError", f"Unable to parse {label} JSON: {exc}") from None
    if not isinstance(value, dict):
        raise _Fault("Runtime.LambdaContextUnmarshalError", f"Unable to parse {label} JSON: not an object")
    return value


# -------------------------------------------------------------------------------------------------- init
def _load_handler(spec: str, profiled: bool = False) -> "Any":
    """Import the handler module and return the function, or raise _Fault with Lambda's exact message.

    ``profiled``: import it with ``__import__``, which ``-X importtime`` times (``import_module`` is
    not timed, only what the module imports); the errors are the same, the stack trace of an error
    at module level lacks the import machinery's frames.
    """
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as exc:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {exc}") from None
    if modname.split(".")[0] in sys.builtin_module_names:
        raise _Fault("Runtime.BuiltInModuleConflict", f"Cannot use built-in module {modname} as a handler module")
    importlib = _own_import("importlib")
    try:
        if profiled:
            __import__(modname.replace("/", "."))
        module = importlib.import_module(modname.replace("/", "."))  # when profiled: from sys.modules
    except ImportError as exc:
        raise _Fault("Runtime.ImportModuleError", f"Unable to import module '{modname}': {exc}") from None
    except SyntaxError as exc:
        trace = f'  File "{exc.filename}" Line {exc.lineno}\n    {(exc.text or "").strip()}\n'
        raise _Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {exc}", [trace]) from None
    except Exception as exc:  # user module-level code failed: report it under its own class name
        error = _exception_error(exc, "")
        raise _Fault(error["errorType"], error["errorMessage"], error["stackTrace"]) from None
    if not hasattr(module, fname):
        raise _Fault("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'")
    # As awslambdaric: a handler that exists but is not callable fails each invoke with a TypeError.
    return getattr(module, fname)


def _fail_init(api: "RuntimeAPI", encoder: "json.JSONEncoder", fault: "_Fault") -> "NoReturn":
    logging = _own_import("logging")  # installs our handler through _LoggingHook if user code has not yet
    logging.warning(INIT_ERROR_WARNING)
    error = _error(fault.error_type, fault.message, fault.stack_trace, "")
    _log_error(error)
    api.request(
        "POST",
        "/init/error",
        encoder.encode(error).encode(errors="replace"),
        f"Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: {fault.error_type}\r\n",
    )
    sys.exit(1)


# ------------------------------------------------------------------------------------------------ invoke
def _invoke(
    handler: "Any", encoder: "json.JSONEncoder", request_id: str, headers: "dict[str, str]", body: "bytes | bytearray"
) -> "ErrorBody | tuple[str, bytes]":
    """Run one invoke. Return (content_type, payload) on success, or an error dict."""
    try:
        context = LambdaContext(request_id, headers)
        if (headers.get("content-type") or "application/json").split(";")[0].strip() == "application/json":
            try:
                event = json.loads(body)
            except Exception as exc:  # as awslambdaric: also a RecursionError from an event nested too deep
                # awslambdaric parses with simplejson, whose recursion message says "a string"
                message = str(exc).replace(" from a unicode string", " from a string")
                raise _Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {message}") from None
        else:
            event = bytes(body)
    except _Fault as fault:
        return _error(fault.error_type, fault.message, fault.stack_trace, request_id)
    try:
        result = handler(event, context)
    except Exception as exc:  # SystemExit and KeyboardInterrupt end the process, as on Lambda
        return _exception_error(exc, request_id)
    if isinstance(result, (bytes, bytearray)):
        return "application/unknown", bytes(result)
    try:
        return "application/json", encoder.encode(result).encode()
    except Exception as exc:
        return _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", [], request_id)


def _serve(api: "RuntimeAPI", handler: "Any", encoder: "json.JSONEncoder") -> "NoReturn":
    global _request_id, _tenant_id
    answer: tuple[str, bytes, str] | None = None  # the last invoke's (path, payload, content type), not yet posted
    while True:
        held = _hold_sigcont()
        if answer is None:
            status, headers, body = api.request("GET", "/invocation/next")
        else:  # posted with the next /next behind it (see RuntimeAPI.request)
            path, payload, content_type = answer
            status, headers, body = api.request(
                "POST", path, payload, f"Content-Type: {content_type}\r\n", then="/invocation/next"
            )
        if held is not None:
            _release_sigcont(held)
        if status != 200:  # 403/500: "Non-recoverable state. Runtime should exit promptly."
            _platform_gone()
        request_id = _request_id = headers.get("lambda-runtime-aws-request-id", "")
        _tenant_id = headers.get("lambda-runtime-aws-tenant-id")
        _set_trace_id(headers.get("lambda-runtime-trace-id"))
        outcome = _invoke(handler, encoder, request_id, headers, body)
        _flush_std()  # the handler's prints reach the pipe before the platform sees the result
        if isinstance(outcome, dict):
            _log_error(outcome)
            payload, path, content_type = encoder.encode(outcome).encode(errors="replace"), "error", "application/json"
        else:
            (content_type, payload), path = outcome, "response"
        # 202, or 413 when the response is too large (the platform reports that to the caller): carry on.
        answer = f"/invocation/{request_id}/{path}", payload, content_type


def _hold_sigcont() -> "types.ModuleType | None":
    """Keep the thaw's SIGCONT from a SIGCONT handler of user code: block it while waiting on ``/next``.

    lambdalab may freeze an environment with SIGSTOP and thaw it with SIGCONT; Lambda's freezer sends no
    signal, so a handler there never sees one. Blocking does not stop the thaw itself (the kernel continues
    a process whatever its mask). Only when user code has installed a handler (it imported ``signal``);
    otherwise the cost is one dictionary lookup. Returns the signal module when it blocked.
    """
    signal = sys.modules.get("signal")
    if signal is None:
        return None
    try:
        if signal.getsignal(signal.SIGCONT) in (signal.SIG_DFL, signal.SIG_IGN, None):
            return None
        signal.pthread_sigmask(signal.SIG_BLOCK, (signal.SIGCONT,))
    except Exception:  # a replaced or partial signal module: leave signals alone
        return None
    return signal


def _release_sigcont(signal: "types.ModuleType") -> None:
    """Discard the SIGCONT of the thaw (if one came) and unblock it again, before the handler runs."""
    try:
        while signal.sigtimedwait((signal.SIGCONT,), 0) is not None:
            pass
        signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGCONT,))
    except Exception:
        pass


def _set_trace_id(trace_id: "str | None") -> None:
    """``os.environ["_X_AMZN_TRACE_ID"]`` for this invoke, without growing the process on every invoke.

    Assigning ``os.environ`` calls the C library's ``setenv``, which keeps every value it was ever given
    (about 155 bytes per invoke, for ever). The trace id changes on every invoke, so it goes into the
    mapping only (``os.environ`` and ``os.getenv`` see it; a child started with ``env=os.environ`` gets it),
    not into the C-level environment that a child started without ``env=`` inherits.
    """
    environ = os.environ
    data = getattr(environ, "_data", None)
    if data is None or not hasattr(environ, "encodekey"):  # os.environ replaced by user code: plain mapping
        if trace_id:
            environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            environ.pop("_X_AMZN_TRACE_ID", None)
        return
    key = environ.encodekey("_X_AMZN_TRACE_ID")
    if trace_id:
        data[key] = environ.encodevalue(trace_id)
    else:
        data.pop(key, None)


def main() -> None:
    api = RuntimeAPI(os.environ["AWS_LAMBDA_RUNTIME_API"])
    try:
        api.connect()  # before user code runs, so monkey-patching of socket cannot affect our connection
    except OSError:
        _platform_gone()
    encoder = _make_encoder()
    try:
        _start_debugger()  # debug mode only: before the task root can shadow what debugpy imports
    except _Fault as fault:
        _fail_init(api, encoder, fault)
    # started with -S (no site module: faster), the engine names the folders handlers may import from, in
    # Lambda's order (dependencies, layers, the runtime's own directory): after the task root, before the stdlib
    extra = os.environ.pop("_LAMBDALAB_PATH", "")
    sys.path[0:0] = [os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()] + [p for p in extra.split(os.pathsep) if p]
    # an import profile (Function.profile_init): Python that lists the loaded modules once the init is over
    init_modules = os.environ.pop("_LAMBDALAB_INIT_MODULES", None)
    try:
        handler = _load_handler(os.environ.get("_HANDLER", ""), profiled=init_modules is not None)
    except _Fault as fault:
        _list_modules(init_modules)
        _fail_init(api, encoder, fault)
    _list_modules(init_modules)
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
        api = _snap_start(api, encoder)
    _serve(api, handler, encoder)


# ----------------------------------------------------------------------------------------------- SnapStart
def _snap_start(api: "RuntimeAPI", encoder: "json.JSONEncoder") -> "RuntimeAPI":
    """SnapStart, as awslambdaric's ``on_init_complete``: before-snapshot hooks, the snapshot, after-restore hooks.

    Hooks are the ones ``snapshot_restore_py`` holds, if user code imported it during init: before-snapshot ones
    in the reverse order of their registration (popped), then ``GET /restore/next``; a failure of either is
    posted to ``/init/error`` as ``Runtime.BeforeSnapshotError`` and ends the process with 64. Once the platform
    answers, this process is the snapshot: the fork server (``snapshot_server.py``, on ``LAMBDALAB_SNAPSHOT_FD``)
    returns only in a restored environment, which runs the after-restore hooks in registration order (a failure:
    ``/restore/error`` with ``Runtime.AfterRestoreError``, exit 65) and goes on to ``/next``. Returns the client
    for that: a restored environment's own connection, to the address its variables name now (the engine may give
    each restored environment its own Runtime API endpoint).
    """
    hooks = sys.modules.get("snapshot_restore_py")
    control = os.environ.pop("LAMBDALAB_SNAPSHOT_FD", None)
    try:
        if hooks is not None:
            before = hooks.get_before_snapshot()
            while before:
                func, args, kwargs = before.pop()
                func(*args, **kwargs)
        status, _, body = api.request("GET", "/restore/next")
        if status != 200:
            raise _Fault("Runtime.BeforeSnapshotError", f"restore/next answered {status}: {bytes(body)[:200]!r}")
    except Exception as exc:
        error = _fault_error(exc) if isinstance(exc, _Fault) else _exception_error(exc, "")
        _snap_start_failed(api, encoder, error, "/init/error", "Runtime.BeforeSnapshotError", 64)
    if control is not None:  # no fork server (a runtime started by hand): this process itself is "restored"
        if api.sock is not None:  # the snapshot holds no connection of its own: each restored one makes its own
            api.sock.close()
            api.sock = None
            api.buf.clear()
        _load_snapshot_server().serve(int(control))
        api = RuntimeAPI(os.environ["AWS_LAMBDA_RUNTIME_API"])
    try:
        if hooks is not None:
            for func, args, kwargs in hooks.get_after_restore():
                func(*args, **kwargs)
    except Exception as exc:
        _snap_start_failed(api, encoder, _exception_error(exc, ""), "/restore/error", "Runtime.AfterRestoreError", 65)
    return api


def _fault_error(fault: "_Fault") -> "ErrorBody":
    return _error(fault.error_type, fault.message, fault.stack_trace, "")


def _snap_start_failed(
    api: "RuntimeAPI", encoder: "json.JSONEncoder", error: "ErrorBody", path: str, error_type: str, code: int
) -> "NoReturn":
    _log_error(error)
    api.request(
        "POST",
        path,
        encoder.encode(error).encode(errors="replace"),
        f"Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: {error_type}\r\n",
    )
    _flush_std()
    sys.exit(code)


def _load_snapshot_server() -> "Any":
    """``snapshot_server.py`` from this file's folder, by location (started with -I: the folder is not on sys.path)."""
    _own_import("importlib.util")
    util = sys.modules["importlib.util"]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "snapshot_server.py")
    spec = util.spec_from_file_location("_lambdalab_snapshot_server", path)
    module = util.module_from_spec(spec)
    _RuntimeModules.depth += 1  # what it imports is the runtime's own: from the standard library
    try:
        spec.loader.exec_module(module)
    finally:
        _RuntimeModules.depth -= 1
    return module


def _start_debugger() -> None:
    """Debug mode (``_LAMBDALAB_DEBUG``, lambdalab/engine/debug.py): debugpy listens on the engine's internal
    loopback port; clients reach it through the engine's public port, which passes on only DAP connections.

    debugpy is loaded from its own folder by file location, so the handler's ``sys.path`` gains nothing; its
    debug adapter runs in this process (``in_process_debug_adapter``), so no process leaves the environment's
    process group. The port may still be held for a moment by the environment's previous incarnation: waited
    for up to 2 s. Any failure fails the init (``Runtime.DebuggerError``) rather than hanging it.
    """
    setting = os.environ.pop("_LAMBDALAB_DEBUG", "")
    if not setting:
        return
    options = json.loads(setting)
    address, folder = options["address"], options["debugpy"]
    host, _, port = address.rpartition(":")
    # pydevd reads these as debugpy loads and listens; the handler never sees them. "My code" (justMyCode) is the
    # function's package: this runtime, layers and dependencies are libraries. The deployed-from folder maps to the
    # task root, so breakpoints set in the user's own files match what runs here.
    hints = {
        "IDE_PROJECT_ROOTS": os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd(),
        "PATHS_FROM_ECLIPSE_TO_PYTHON": json.dumps(options["paths"]),
    }
    os.environ.update(hints)
    try:
        _own_import("importlib.util")
        util = sys.modules["importlib.util"]
        spec = util.spec_from_file_location(
            "debugpy", os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
        )
        debugpy = util.module_from_spec(spec)
        sys.modules["debugpy"] = debugpy
        spec.loader.exec_module(debugpy)
        waited_until = time.monotonic() + 2.0
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as debugpy binds
                try:
                    probe.bind((host, int(port)))
                    break
                except OSError:
                    if time.monotonic() > waited_until:
                        raise
            time.sleep(0.05)
        debugpy.listen((host, int(port)), in_process_debug_adapter=True)
    except Exception as exc:
        sys.modules.pop("debugpy", None)
        raise _Fault("Runtime.DebuggerError", f"debugpy could not listen on {address}: {exc}") from None
    finally:
        for name in hints:
            os.environ.pop(name, None)
    public = options.get("public", address)  # the engine's port, proxied to this one (lambdalab/engine/debug.py)
    sys.stdout.write(f"lambdalab: debugger listening on {public} (environment {options['environment']})\n")


def _list_modules(source: "str | None") -> None:
    if source is not None:
        _flush_std()
        exec(source, {"__builtins__": __builtins__, "__name__": "_lambdalab_init_modules"})


sys.meta_path.insert(0, _RuntimeModules)
if "logging" in sys.modules:
    _install_logging()
else:
    sys.meta_path.insert(0, _LoggingHook)

if __name__ == "__main__":
    main()
