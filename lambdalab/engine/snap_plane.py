"""SnapStart for the control plane: templates, the snapshot, restores (``engine/snapshot.py`` does the processes).

On the engine's loop. A published SnapStart version's template is an ordinary spawn with its control socket
(``template_spawn``, called by the spawner); its ``GET /runtime/restore/next`` (``RestoreNextRequested``) is
parked until the core answers ``TakeSnapshot``, which answers it with 200 (the runtime is the snapshot from then
on) and reports ``SnapshotTaken``. ``RestoreRuntime`` takes a prepared restore spare of the version (or waits for
one) and restores it as the environment's runtime; the restored runtime keeps the template's Runtime API address
(it is in the snapshot), so a connection on the template's listener is handed to the environment whose restored
runtime holds it (``endpoint_for``). Every decision (when to snapshot, when to restore, deadlines, errors) is the
core's. Without the launcher, cgroups or pidfd exit status (``Snapshots.available``) no snapshot is taken and the
version's environments start cold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from lambdalab.core.effects import RestoreRuntime, TakeSnapshot
from lambdalab.core.events import Event, ProcessExited, SnapshotTaken
from lambdalab.core.lifecycle import allows
from lambdalab.engine import peer
from lambdalab.engine.environment import EngineEnvironment
from lambdalab.engine.runtime_endpoint import RuntimeEndpoint
from lambdalab.engine.sandbox import Sandbox
from lambdalab.engine.snapshot import Key, Snapshots
from lambdalab.errors import SandboxError


class SnapPlane:
    """One Lab's SnapStart templates and restores."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        now: Callable[[], float],
        dispatch: Callable[[Event], None],
        environments: dict[str, EngineEnvironment],
        snapshots: Snapshots,
    ) -> None:
        self.loop = loop
        self.now = now
        self.dispatch = dispatch
        self.environments = environments
        self.snapshots = snapshots
        self.templates: dict[Key, str] = {}  # version -> its template environment's id
        self.restored: dict[Key, dict[int, tuple[str, int]]] = {}  # version -> restored runtime pid -> (env, inc)

    @staticmethod
    def key(environment: EngineEnvironment) -> Key:
        spec = environment.pool.spec
        return spec.function, spec.version

    # -- the template -------------------------------------------------------------------------
    def is_template(self, environment: EngineEnvironment) -> bool:
        core = environment.pool.environments.get(environment.id)
        return core is not None and core.template and self.snapshots.available()

    def template_channel(self, environment: EngineEnvironment) -> tuple[int, dict[str, str]]:
        """The control socket a template inherits, and the variable naming it."""
        key = self.key(environment)
        self.templates[key] = environment.id
        return self.snapshots.template_channel(key)

    def template_started(self, environment: EngineEnvironment, sandbox: Sandbox, marker: str) -> None:
        self.snapshots.template_started(self.key(environment), sandbox, environment.tmp, marker)

    def take_snapshot(self, effect: TakeSnapshot) -> None:
        """``TakeSnapshot``: the template's ``/restore/next`` is answered; it serves restores from now on."""
        environment = self.environments.get(effect.environment_id)
        if environment is None:
            return
        connection, environment.restore_parked = environment.restore_parked, None
        if connection is not None:
            connection.send(200, b"")
        self.snapshots.taken(self.key(environment))
        event = SnapshotTaken(environment.id, effect.incarnation, self.now())
        self.loop.call_soon(self._send, environment, event)

    def _send(self, environment: EngineEnvironment, event: Event) -> None:
        core = environment.pool.environments.get(environment.id)
        if core is not None and core.incarnation == event.incarnation and allows(core.state, type(event)):
            self.dispatch(event)

    # -- restores -------------------------------------------------------------------------------
    def restore(self, effect: RestoreRuntime, environment: EngineEnvironment, on_exit: Callable[..., None]) -> None:
        """``RestoreRuntime``: a restore spare of the version becomes this environment's runtime."""
        self.loop.create_task(self._restore(effect, environment, on_exit))

    async def _restore(
        self, effect: RestoreRuntime, environment: EngineEnvironment, on_exit: Callable[..., None]
    ) -> None:
        key, incarnation = self.key(environment), effect.incarnation
        try:
            spare = self.snapshots.take_spare(key, environment.pool.spec.memory_mb)
            if spare is None:
                spare = await self.snapshots.wait_spare(key, environment.pool.spec.memory_mb)
        except SandboxError:
            on_exit(environment, incarnation, 127)  # no snapshot to restore from: the restore fails
            return
        core = environment.pool.environments.get(environment.id)
        if core is None or core.incarnation != incarnation or environment.retired:
            self.snapshots.discard(spare)  # the environment went meanwhile: nothing is restored
            return
        environment.tmp, environment.cgroups = spare.tmp, list(spare.cgroups)
        environment.address = spare.address  # sandbox.localdomain inside it (its extensions' telemetry listeners)
        template = self.environments.get(self.templates.get(key, ""))
        if template is not None:  # its variables are the template's: so is the credentials route's token
            environment.container_credentials = template.container_credentials
        sandbox = self.snapshots.restore(
            spare,
            env={},
            on_output=environment.output_writer(environment.output_tap),
            on_exit=lambda code: on_exit(environment, incarnation, code),
            owner=(environment.id, incarnation),
        )
        environment.adopt_restored(sandbox, incarnation)
        self.restored.setdefault(key, {})[sandbox.pid] = (environment.id, incarnation)

    def endpoint_for(
        self, template: EngineEnvironment, client: tuple[Any, ...], server: tuple[Any, ...]
    ) -> RuntimeEndpoint | None:
        """The endpoint of the restored environment whose runtime holds this connection to ``template``'s listener."""
        owners = self.restored.get(self.key(template))
        if not owners:
            return None
        for pid, (environment_id, incarnation) in list(owners.items()):
            environment = self.environments.get(environment_id)
            if environment is None or environment.sandboxes.get(incarnation) is None:
                owners.pop(pid, None)
                continue
            if peer.owned_by(client, server, [pid]) is True:
                return RuntimeEndpoint(environment, incarnation)
        return None

    def exited(self, environment: EngineEnvironment, event: ProcessExited) -> None:
        """A template's end: its version's snapshot goes with it."""
        key = self.key(environment)
        if self.templates.get(key) == environment.id:
            del self.templates[key]
            self.restored.pop(key, None)
            self.snapshots.drop(key)

    def close(self) -> None:
        self.snapshots.close()
