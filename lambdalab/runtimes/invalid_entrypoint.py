"""Stands in for a custom runtime that has no ``bootstrap``: reports Lambda's ``Runtime.InvalidEntrypoint``.

Lambda finds no executable ``bootstrap`` in the task root or ``/opt`` and fails the init with
``Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]``, or finds one it cannot
start (``fork/exec /var/task/bootstrap: permission denied``, ``exec format error``, ``no such file or
directory`` for a ``#!`` line naming no program). The engine starts this script in those cases
(argv[1]: the message), so the error takes the ordinary init-error path: ``/init/error``,
INIT_REPORT, the suppressed init inside the first invoke, the caller's payload.

Rules: stdlib only, never imports ``lambdalab``; exits 1 after posting, as a runtime does.
"""

import http.client
import json
import os
import sys

ERROR_TYPE = "Runtime.InvalidEntrypoint"


def main() -> None:
    message = (
        sys.argv[1] if len(sys.argv) > 1 else "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
    )
    body = json.dumps({"errorType": ERROR_TYPE, "errorMessage": message})
    print(f"Error: {message}\n{ERROR_TYPE}", flush=True)
    try:
        connection = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"], timeout=10)
        connection.request(
            "POST",
            "/2018-06-01/runtime/init/error",
            body,
            {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": ERROR_TYPE},
        )
        connection.getresponse().read()
    except (OSError, KeyError, http.client.HTTPException):
        pass
    sys.exit(1)


if __name__ == "__main__":
    main()
