"""Environments from making to removing: the machine side of one Lab's control plane.

On the engine's loop, for the control plane (``engine/control_plane.py``), which performs the core's other
effects. ``new_environment`` makes an environment's folder, ``/tmp``, cgroups and log stream (the spare's,
``engine/spare.py``, where one serves); ``spawn`` performs ``SpawnRuntime``: the incarnation's Runtime API
socket, Lambda's variables, and its runtime process (in the spare's waiting launcher, or a new one);
``on_exit`` hands a process's end to the core as ``ProcessExited``; ``retire`` performs ``Retire``. It owns
the resources every environment shares: the Lab's cgroups (``limits``), the reaper, the descriptor budget,
the spare, and the ``PlaneHooks`` each environment is given. It holds of the control plane only the tables
and callables it is given.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalab.cache import cache_root
from lambdalab.config import FunctionConfig
from lambdalab.core.effects import LaunchExtensions, Retire, SpawnRuntime
from lambdalab.core.events import Event, ProcessExited, ProcessStarted
from lambdalab.core.lifecycle import State
from lambdalab.core.logstream import LogStream
from lambdalab.core.pool import Pool
from lambdalab.core.records import log_stream_name
from lambdalab.engine import debug, extensions, fd_budget, mounts, runtimes
from lambdalab.engine.environment import EngineEnvironment, PlaneHooks
from lambdalab.engine.groups import Group, Groups
from lambdalab.engine.jsonlogs import JsonLogs
from lambdalab.engine.limits import Limits
from lambdalab.engine.reaper import Reaper, remove_tree
from lambdalab.engine.sandbox import Sandbox, lab_marker, marked_environment
from lambdalab.engine.settings import LabSettings
from lambdalab.engine.spare import ENVIRONMENTS, Spare, Spares, write_hosts

if TYPE_CHECKING:
    from lambdalab.engine.agent_plane import AgentPlane
    from lambdalab.engine.snap_plane import SnapPlane

MAX_RETIRED_ENVIRONMENTS = 1000  # gone environments whose log streams stay readable


class Spawner:
    """One Lab's environments (made, spawned, exited, retired) and the resources they share."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        settings: LabSettings,
        workdir: Path,
        lab_id: str,
        *,
        now: Callable[[], float],
        dispatch: Callable[[Event], None],
        code: dict[tuple[str, str], tuple[FunctionConfig, Path]],
        versions: dict[tuple[str, str], tuple[FunctionConfig, Path]],
        paths: dict[tuple[str, str], runtimes.RuntimePaths],
        registry: dict[str, Pool],
        environments: dict[str, EngineEnvironment],
        agents: AgentPlane | None = None,
    ) -> None:
        """``code``, ``versions`` (published versions' settings), ``paths``, ``registry`` (the scheduler's environment
        id -> pool) are read; new environments are added to ``environments``."""
        self.loop = loop
        self.settings = settings
        self.now = now
        self.dispatch = dispatch
        self.code = code
        self.versions = versions
        self.paths = paths
        self.registry = registry
        self.environments = environments
        self.agents = agents  # extensions and telemetry (engine/agent_plane.py)
        self.snap: SnapPlane | None = None  # SnapStart templates and restores (engine/snap_plane.py), set after
        self.retired: collections.deque[str] = collections.deque()
        self.groups = Groups()  # Managed Instances environments: what their workers share (engine/groups.py)
        self.limits = Limits(lab_id, enabled=settings.use_cgroups)
        self.fd_budget = fd_budget.process_budget()
        self.executor = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="lambdalab-limits")
        self.reaper = Reaper(loop)  # respawned by the loop if it dies
        self.marker = lab_marker(lab_id)
        self.reaper.watch_marker(self.marker)
        self.reaper.watch_dir(workdir)
        self.empty_opt = workdir / "opt"  # /opt of a function without layers, where runtimes get a namespace
        self.empty_opt.mkdir(mode=0o755, exist_ok=True)
        for path in self.limits.lab_dirs():  # listed first, so removed last
            self.reaper.watch_cgroup(path)
        # what every environment uses (task roots, layers, runtime folders, the cache): read-only for runtimes
        self.shared_folders = (str(workdir), str(cache_root()))
        self.environments_dir = workdir / ENVIRONMENTS  # of which each runtime sees only its own folder
        self.debugger = debug.Debugger(loop, self._live)  # the debug environments' public ports (engine/debug.py)
        self.debugging = False  # once a debug environment has spawned: what the control plane checks first
        self.spares = Spares(
            workdir=workdir,
            limits=self.limits,
            reaper=self.reaper,
            budget=self.fd_budget,
            marker=self.marker,
            shared=self.shared_folders,
        )
        # all an environment and its Runtime API endpoints may use of the control plane
        self.hooks = PlaneHooks(
            now=now,
            dispatch=dispatch,
            on_exit=self.on_exit,
            members=self.limits.members,
            shared=self.shared_folders,
            hide=str(self.environments_dir),
            account_id=settings.account_id,
        )
        if agents is not None:  # the Extensions, Telemetry and Logs APIs (engine/agent_plane.py)
            self.hooks = dataclasses.replace(self.hooks, agent=agents.on_agent, runtime_next=agents.runtime_next)

    def spawn(self, effect: SpawnRuntime) -> None:
        """``SpawnRuntime``: the incarnation's runtime process (its Runtime API socket, Lambda's variables)."""
        prepared = self._prepare(effect.environment_id, effect.incarnation, effect.init_type)
        if prepared is not None and self._start(*prepared):
            self.loop.call_soon(self.dispatch, ProcessStarted(effect.environment_id, effect.incarnation, self.now()))

    def launch_extensions(self, effect: LaunchExtensions) -> None:
        """``LaunchExtensions``: the incarnation's external extensions start; its runtime at ``StartRuntime``, once
        they have registered (``engine/agent_plane.py``)."""
        environment = self.environments.get(effect.environment_id) or self.new_environment(effect.environment_id)
        core = environment.pool.environments[environment.id]
        if core.state is State.RESTORING and effect.incarnation not in environment.sandboxes:
            # restored: its /tmp and groups are the restore spare's, known once the restore has begun
            environment.after_restore.append(lambda: self.launch_extensions(effect))
            return
        init_type = core.init_type
        prepared = self._prepare(effect.environment_id, effect.incarnation, init_type)
        if prepared is None or self.agents is None:
            return
        environment, incarnation, spare, argv, env_vars, opt, marker = prepared
        paths = self.paths.get((environment.pool.spec.function, environment.pool.spec.code))
        try:
            self.agents.launch(
                environment,
                incarnation,
                extensions.extension_files(paths),
                extensions.variables(env_vars, paths.bin if paths is not None else ()),
                opt=opt,
                marker=marker,
                reaper=self.reaper,
                start_runtime=lambda: self._start(*prepared),
            )
        except Exception:  # noqa: BLE001 - nothing ran: the core sees the incarnation end at once
            environment.close_server(incarnation)
            self.loop.call_soon(self.on_exit, environment, incarnation, 127)

    def _prepare(
        self, environment_id: str, incarnation: int, init_type: str
    ) -> tuple[EngineEnvironment, int, Spare | None, list[str], dict[str, str], str, str] | None:
        """An incarnation's socket, variables and command (None: it failed, and its exit is on its way)."""
        environment = self.environments.get(environment_id) or self.new_environment(environment_id)
        spare, environment.spare = environment.spare, None  # its first incarnation runs in the spare's launcher
        if spare is None and not self.fd_budget.acquire():  # another Lab took the last slot: it exits at once
            self.fd_budget.warn_full()
            self.loop.call_soon(self.on_exit, environment, incarnation, 127)
            return None
        environment.slots.add(incarnation)  # a spare's slot passes to the environment
        config = environment.config
        if isinstance(environment.stream.render, JsonLogs):
            environment.stream.render.initialization_type = init_type
        marker = f"{self.marker}{environment.id}/{incarnation}/"
        try:
            port = environment.open_server(incarnation)
            env_vars = runtimes.environment_variables(
                config,
                environment=environment,
                port=port,
                init_type=init_type,
                region=self.settings.region,
                pass_env=self.settings.pass_env,
                log_group=f"/aws/lambda/{config.name}",
                credentials=dict(self.settings.role_credentials) or None,
                paths=self.paths.get((environment.pool.spec.function, environment.pool.spec.code)),
            )
            if config.debug is not False and not isinstance(config, runtimes.ProfiledConfig):
                environment.debugger = self.debugger.open(environment.id, config.debug)
                env_vars.update(debug.variables(environment.debugger, environment.id, environment.code_dir))
                self.debugging = True
            env_vars = marked_environment(env_vars, marker)
            paths = self.paths.get((environment.pool.spec.function, environment.pool.spec.code))
            opt = (paths.opt if paths is not None else None) or str(self.empty_opt)
            argv = runtimes.command(config, environment.code_dir, opt)
        except Exception as exc:  # noqa: BLE001 - the process never ran: the core sees it exit at once
            if isinstance(exc, OSError):
                self.fd_budget.warn_full()
            if spare is not None:
                spare.sandbox.kill()
            environment.close_server(incarnation)
            self.loop.call_soon(self.on_exit, environment, incarnation, 127)
            return None
        return environment, incarnation, spare, argv, env_vars, opt, marker

    def _start(
        self,
        environment: EngineEnvironment,
        incarnation: int,
        spare: Spare | None,
        argv: list[str],
        env_vars: dict[str, str],
        opt: str,
        marker: str,
    ) -> bool:
        """The incarnation's runtime process: in the spare's launcher, or a new one. False if it could not start."""
        snap = self.snap
        template = snap is not None and snap.is_template(environment)
        try:
            if template:  # a SnapStart template: its own process, with the control socket it serves forks on
                assert snap is not None
                if spare is not None:
                    spare.sandbox.kill()
                fd, extra = snap.template_channel(environment)
                sandbox = environment.spawn(
                    argv,
                    environment.code_dir,
                    {**env_vars, **extra},
                    incarnation,
                    mounts=(str(environment.tmp), opt),
                    pass_fds=(fd,),
                )
                snap.template_started(environment, sandbox, marker)
            elif spare is not None and Sandbox.command_fits(argv, env_vars):
                sandbox = environment.adopt(spare.sandbox, argv, env_vars, incarnation, opt, marker)
            else:
                if spare is not None:
                    spare.sandbox.kill()  # its groups are the environment's now; it ends there
                sandbox = environment.spawn(
                    argv, environment.code_dir, env_vars, incarnation, mounts=(str(environment.tmp), opt)
                )
        except Exception as exc:  # noqa: BLE001 - the process never ran: the core sees it exit at once
            if isinstance(exc, OSError):
                self.fd_budget.warn_full()
            environment.close_server(incarnation)
            self.loop.call_soon(self.on_exit, environment, incarnation, 127)
            return False
        sandbox.guard(self.reaper, environment.cgroups, marker)
        if not sandbox.joined or self.limits.memory_base is None:  # else it was born inside its groups
            environment.limits_ready[incarnation] = self.loop.run_in_executor(
                self.executor, self.limits.enter, environment.cgroups, sandbox.pid, environment.pool.spec.memory_mb
            )
        return True

    def new_environment(self, environment_id: str) -> EngineEnvironment:
        """An environment's folder, /tmp and groups: the spare's where one serves (``engine/spare.py``), else made now.

        A spare for the next new environment is made right after, while this one boots.
        """
        pool = self.registry[environment_id]
        spec = pool.spec
        config, code_dir = self.versions.get((spec.function, spec.version)) or self.code[(spec.function, spec.code)]
        core = pool.environments.get(environment_id)
        group_id = core.group if core is not None else environment_id
        group = self.groups.get(group_id) if spec.per_environment else None
        if group is not None:  # another worker of a Managed Instances environment: it shares what the first made
            return self._join(group, environment_id, pool, config, code_dir)
        restored = core is not None and core.state is State.RESTORING  # its folder and groups: a restore spare's
        spare = (
            None
            if isinstance(config, runtimes.ProfiledConfig) or restored
            else self.spares.take(pool.spec.memory_mb, config.ephemeral_storage_mb)
        )
        if not restored:
            self.spares.refill()
        date = time.strftime("%Y/%m/%d", time.gmtime())
        name = log_stream_name(date, pool.spec.version, environment_id)
        if config.log_format == "JSON":  # Lambda's JSON format, rendered when the stream is read
            json_logs = JsonLogs(config, pool.spec.version, name)
            stream = LogStream(
                name,
                max_entries=self.settings.max_log_entries,
                render=json_logs,
                filter_output=json_logs.filter_output,
            )
        else:
            stream = LogStream(name, max_entries=self.settings.max_log_entries)
        if restored:  # engine/snap_plane.py sets its /tmp and groups from the restore spare it takes
            tmp, address = self.environments_dir / environment_id / "tmp", "127.0.0.1"
        elif spare is not None:
            tmp, address = spare.tmp, spare.address
        else:
            tmp = self.environments_dir / environment_id / "tmp"
            tmp.mkdir(parents=True, mode=0o700)
            address = write_hosts(tmp.parent)  # sandbox.localdomain: its own loopback address
            mounts.mount_tmpfs(tmp, config.ephemeral_storage_mb)  # where allowed: its size is ephemeral_storage_mb
        environment = EngineEnvironment(environment_id, pool, config, code_dir, stream, tmp, self.hooks)
        environment.address = address
        if restored:
            pass
        elif spare is not None:
            environment.cgroups = spare.cgroups  # already watched by the reaper
            environment.spare = spare
        else:
            environment.cgroups = self.limits.create(environment_id, pool.spec.memory_mb)
            for path in environment.cgroups:
                self.reaper.watch_cgroup(path)
        self.environments[environment_id] = environment
        if spec.per_environment:  # the first worker of a Managed Instances environment: the others join it
            environment.group = group_id
            self.groups.join(Group(group_id, tmp, address, environment.cgroups, stream), environment_id)
        return environment

    def _join(
        self, group: Group, environment_id: str, pool: Pool, config: FunctionConfig, code_dir: Path
    ) -> EngineEnvironment:
        """A Managed Instances worker after the first: its own sockets and processes, the group's /tmp, cgroups
        (one memory limit for all the workers), address and log stream."""
        environment = EngineEnvironment(environment_id, pool, config, code_dir, group.stream, group.tmp, self.hooks)
        environment.address, environment.cgroups = group.address, group.cgroups
        environment.oom_kills, environment.group = group.oom_kills, group.id
        self.groups.join(group, environment_id)
        self.environments[environment_id] = environment
        return environment

    def kill(self, environment: EngineEnvironment, incarnation: int) -> None:
        """``Kill``: the incarnation's processes; and every process left in the environment's groups, unless other
        workers of its Managed Instances environment still run in them (each worker's kill reaches its own
        processes: its process group and what carries its marker)."""
        environment.kill(incarnation)
        others = self.groups.others(environment.id)
        if not any(self.environments[other].sandboxes for other in others if other in self.environments):
            self.limits.kill_all(environment.cgroups)

    def on_exit(self, environment: EngineEnvironment, incarnation: int, returncode: int) -> None:
        sandbox = environment.sandboxes.pop(incarnation, None)
        memory = sandbox.peak_memory_mb if sandbox is not None else 0  # its group is forgotten (Sandbox._reap)
        if incarnation in environment.slots:
            environment.slots.discard(incarnation)
            self.fd_budget.release()
        environment.close_server(incarnation)
        environment.limits_ready.pop(incarnation, None)
        kills = self.limits.oom_kills(environment.cgroups)
        group = self.groups.of.get(environment.id)  # a Managed Instances worker: its group counts for all of them
        oom, environment.oom_kills = kills > (group.oom_kills if group is not None else environment.oom_kills), kills
        if group is not None:
            group.oom_kills = kills
        exited = ProcessExited(environment.id, incarnation, self.now(), returncode, oom, memory)
        if self.snap is not None:
            self.snap.exited(environment, exited)
        self.dispatch(exited)
        extensions = environment.extensions
        if extensions is not None and extensions.incarnation == incarnation:
            core = environment.pool.environments.get(environment.id)
            if core is not None and core.state is State.DRAINING:  # the runtime has gone in a graceful shutdown
                extensions.kill_unsubscribed()

    def _live(self, environment_id: str) -> bool:
        """Whether an environment still runs or may run again (debug mode: a port it holds is not taken over)."""
        environment = self.environments.get(environment_id)
        if environment is None or environment.retired:
            return False
        core = environment.pool.environments.get(environment_id)
        return core is not None and core.state not in (State.SHUTTING_DOWN, State.DRAINING, State.TERMINATED)

    def retire(self, effect: Retire) -> None:
        environment = self.environments.get(effect.environment_id)
        if environment is None:
            return
        environment.retired = True
        if environment.debugger is not None:
            self.debugger.close(environment.id)  # its port is free for the next environment at once
        extensions = environment.extensions
        if extensions is not None and extensions.cgroups:  # its extensions' child groups go first
            for path in extensions.cgroups:
                self.limits.kill_all([path])
            extensions.remove_groups()
        shared = environment.id in self.groups.of  # a Managed Instances worker: the last one removes what they share
        if not shared or self.groups.leave(environment.id) is not None:
            self.limits.remove(environment.cgroups)
            remove_tree(environment.tmp.parent)  # its /tmp's tmpfs unmounted first
        self.retired.append(environment.id)  # its log stream stays readable, up to a bound
        if len(self.retired) > MAX_RETIRED_ENVIRONMENTS:
            self.environments.pop(self.retired.popleft(), None)
