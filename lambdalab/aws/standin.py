"""``StandIn``: AWS on this machine, for notebooks and tests that have no account.

    with StandIn() as aws:                      # Lambda and CloudWatch Logs: a local Lab's endpoint; IAM: moto
        with lambdalab.aws.Lab() as lab:        # unchanged code: boto3 finds the stand-in in its own settings
            ...

For its lifetime it sets, in ``os.environ``, the endpoints boto3 reads (``AWS_ENDPOINT_URL_LAMBDA`` and
``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`` (boto3's name; ``AWS_ENDPOINT_URL_LOGS`` too) -> the local Lab's endpoint,
``AWS_ENDPOINT_URL_IAM`` and ``AWS_ENDPOINT_URL`` for any other service -> moto's server on loopback), dummy
credentials (``testing``) and ``us-east-1``; it hides the user's profile, credential and config files and their
own endpoint settings, so nothing can reach a real account while it runs. ``close()`` restores every variable and
stops the servers and the local Lab.
"""

from __future__ import annotations

import logging
import os
import urllib.request
from typing import Any

from lambdalab.api import Lab

DUMMY = "testing"
# variables that would send requests elsewhere or use real credentials: unset while the stand-in runs
_HIDDEN = (
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_REGION",
    "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_S3", "AWS_CREDENTIAL_EXPIRATION",
)  # fmt: skip


class StandIn:
    """A local Lab serving Lambda and CloudWatch Logs, and moto's IAM, wired into boto3 through ``os.environ``."""

    def __init__(self, *, set_environ: bool = True, **lab_options: Any) -> None:
        self.local: Lab | None = None
        self.set_environ = set_environ  # False: the caller applies environment() itself (a test's monkeypatch)
        self.url = ""  # the local Lab's endpoint (Lambda and CloudWatch Logs)
        self.iam_url = ""  # moto's server (IAM)
        self._lab_options = lab_options
        self._moto: Any = None
        self._saved: dict[str, str | None] = {}
        self._werkzeug_level: int | None = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<StandIn lambda+logs={self.url or '-'} iam={self.iam_url or '-'}>"

    @property
    def running(self) -> bool:
        return self.local is not None

    def start(self) -> StandIn:
        """Start the local Lab, its endpoint and moto's IAM, then point boto3 at them."""
        if self.local is not None:
            return self
        try:
            self._start_moto()
            self.local = Lab(**self._lab_options)
            self.url = self.local.serve(idle_timeout_s=300.0)
            if self.set_environ:
                for name, value in self.environment().items():
                    self._set(name, value)
        except BaseException:
            self.close()
            raise
        return self

    def _start_moto(self) -> None:
        from moto.server import ThreadedMotoServer

        werkzeug = logging.getLogger("werkzeug")
        self._werkzeug_level = werkzeug.level
        werkzeug.setLevel(logging.ERROR)  # no access line per request
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.iam_url = f"http://{host}:{port}"
        # moto's backends are the process's: another moto user here (a test's own server) may have made IAM's
        # without AWS's managed policies, which a role needs. Start from none; the next request makes them anew,
        # with MOTO_IAM_LOAD_MANAGED_POLICIES as environment() sets it.
        reset = urllib.request.Request(self.iam_url + "/moto-api/reset", method="POST")
        with urllib.request.urlopen(reset, timeout=10) as answer:
            answer.read()

    def _set(self, name: str, value: str | None) -> None:
        if name not in self._saved:
            self._saved[name] = os.environ.get(name)
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value

    def environment(self) -> dict[str, str | None]:
        """The variables the stand-in sets while it runs (None: unset)."""
        settings: dict[str, str | None] = dict.fromkeys(_HIDDEN)
        settings.update(
            {
                "AWS_ENDPOINT_URL": self.iam_url,  # any other service goes to moto, never to AWS
                "AWS_ENDPOINT_URL_LAMBDA": self.url,
                "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": self.url,
                "AWS_ENDPOINT_URL_LOGS": self.url,
                "AWS_ENDPOINT_URL_IAM": self.iam_url,
                "AWS_ACCESS_KEY_ID": DUMMY,
                "AWS_SECRET_ACCESS_KEY": DUMMY,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
                "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
            }
        )
        return settings

    def close(self) -> None:
        """Restore the environment, stop the local Lab (and its endpoint) and moto's server. Idempotent."""
        for name, value in reversed(list(self._saved.items())):
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()
        local, self.local = self.local, None
        if local is not None:
            local.close()
        moto, self._moto = self._moto, None
        if moto is not None:
            moto.stop()
        if self._werkzeug_level is not None:
            logging.getLogger("werkzeug").setLevel(self._werkzeug_level)
            self._werkzeug_level = None
        self.url = self.iam_url = ""
