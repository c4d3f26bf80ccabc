"""``Simulation``: one function under a load pattern, run on the shared core in virtual time.

Owns a run's set-up (scheduler, limits, keep-alive policy, provisioned environments, async queue)
and its arrivals: an open-loop pattern's ``offsets``, a ``ClosedLoop``'s clients, or any iterable
of offsets in seconds. Patterns are duck-typed (this layer may not import ``lambdalab.load``); a
run's length is checked by ``lambdalab.config.check_run``, as the wall-clock runner checks it.
Everything random comes from one ``random.Random(seed)`` owned here, so a seed fixes the result.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from lambdalab.config import MANAGED_INSTANCES_MIN_ENVIRONMENTS, check_run
from lambdalab.core.async_queue import EventQueue, QueuedEvent
from lambdalab.core.events import ProcessStarted, RestoreNextRequested, SnapshotTaken
from lambdalab.core.ids import IdFactory
from lambdalab.core.keepalive import FixedKeepAlive, HybridHistogramKeepAlive, KeepAlivePolicy
from lambdalab.core.lifecycle import EnvironmentSpec, State
from lambdalab.core.limits import AccountLimits
from lambdalab.core.pool import Pool
from lambdalab.core.scheduler import LATEST, Scheduler
from lambdalab.errors import ConfigError
from lambdalab.sim.driver import Driver, SchedulerLike, Timing
from lambdalab.sim.kernel import ARRIVAL, Kernel
from lambdalab.sim.latency import Constant, LatencyModel, as_model
from lambdalab.sim.result import SimulationResult, summarize
from lambdalab.sim.scenario import Scenario
from lambdalab.sim.tally import Tally

SchedulerFactory = Callable[[AccountLimits, Callable[[], str]], SchedulerLike]
THROTTLE_RETRY_S: Final = 0.1  # a closed-loop client with no think time retries a throttle after this
_PAYLOAD: Final = b"{}"


class Simulation:
    """One function's traffic, environments and bill, simulated on the same core as the engine.

    Parameters
    ----------
    pattern
        A ``lambdalab.load`` pattern (open-loop ones by their ``offsets``; ``ClosedLoop`` by its
        clients), or any iterable of arrival offsets in seconds, non-decreasing.
    service, cold_service, init
        Latency models (``Constant``, ``Exponential``, ``LogNormal``, ``Empirical``) or seconds.
        ``cold_service``, when given, is the whole duration of a cold request (SimFaaS's model; the
        init takes ``min(init, cold_service)`` of it); otherwise a cold request takes init + service.
    keep_alive_s, concurrency, provisioned, reserved
        Idle environments live ``keep_alive_s`` (``keep_alive_policy="hybrid"`` for the histogram
        policy); ``concurrency`` is the account limit, ``reserved`` the function's reservation.
    warm_choice
        Which idle environment a warm request takes: ``"mru"`` (the most recently used, the core's
        rule everywhere) or ``"newest"`` (the most recently created: SimFaaS's rule, to compare with it).
    snap_start, restore
        SnapStart: the snapshot is taken before the run (at publish), and every new environment is
        restored from it in ``restore`` seconds (a latency model; 0 unless given) instead of ``init``.
    extensions, extension_init, extension_post
        External extensions per environment (0-10): their start and registration (``extension_init``,
        part of Init) and their work after each invoke's answer (``extension_post``, billed inside Duration).
    max_concurrency_per_environment, max_environments, min_environments
        Lambda Managed Instances (``core/groups.py``): each environment runs this many workers, one request each at
        a time. ``min_environments`` (None: Lambda's 3, at most ``max_environments``) are ready when the run starts
        (started at publish, before the traffic) and kept; requests fill the busiest environment first; a request
        that finds no idle worker is throttled, and one more environment starts in the background (a drawn
        ``init``) within the scaling rule and ``max_environments``: no request is a cold start. Nothing is frozen,
        a timeout leaves its worker running. The bill is the instances' (``summary.cost_breakdown_usd``: vCPU time
        at an on-demand price, the 15% management fee, requests). ``cold_service`` does not apply.
    tenants
        Tenant isolation with this many tenants (each request's drawn at random): environments never serve two.
    seed
        Fixes every draw; ``None`` draws one now (see ``.seed``).

    Examples
    --------
    >>> from lambdalab.sim import Simulation, Exponential
    >>> sim = Simulation([0.0, 1.0, 700.0], service=Exponential(0.2), init=0.3, keep_alive_s=600, seed=1)
    >>> sim.run().summary.cold_starts
    2
    """

    # Keyword-only settings are the fields of ``Scenario``, spelled out so that IDEs show them.
    def __init__(
        self,
        pattern: Any,
        *,
        service: LatencyModel | float,
        cold_service: LatencyModel | float | None = None,
        init: LatencyModel | float | None = None,
        keep_alive_s: float = 600.0,
        keep_alive_policy: str = "fixed",
        warm_choice: str = "mru",
        concurrency: int = 1000,
        reserved: int | None = None,
        provisioned: int = 0,
        memory_mb: int = 128,
        timeout_s: float = 900.0,
        init_timeout_s: float = 10.0,
        error_probability: float = 0.0,
        invocation_type: str = "RequestResponse",
        max_retry_attempts: int = 2,
        max_event_age_s: float = 21_600.0,
        scale_limit: int = 1000,
        scale_period_s: float = 10.0,
        max_memory_used_mb: int = 0,
        max_records: int = 100_000,
        function: str = "function",
        snap_start: bool = False,
        restore: LatencyModel | float | None = None,
        extensions: int = 0,
        extension_init: LatencyModel | float | None = None,
        extension_post: LatencyModel | float | None = None,
        max_concurrency_per_environment: int | None = None,
        max_environments: int | None = None,
        min_environments: int | None = None,
        tenants: int = 0,
        seed: int | None = None,
        scheduler_factory: SchedulerFactory | None = None,
    ) -> None:
        self.pattern = pattern
        self.scenario = Scenario(
            service=as_model("service", service),
            cold_service=None if cold_service is None else as_model("cold_service", cold_service),
            init=Constant(0.0) if init is None else as_model("init", init),
            keep_alive_s=keep_alive_s,
            keep_alive_policy=keep_alive_policy,
            warm_choice=warm_choice,
            concurrency=concurrency,
            reserved=reserved,
            provisioned=provisioned,
            memory_mb=memory_mb,
            timeout_s=timeout_s,
            init_timeout_s=init_timeout_s,
            error_probability=error_probability,
            invocation_type=invocation_type,
            max_retry_attempts=max_retry_attempts,
            max_event_age_s=max_event_age_s,
            scale_limit=scale_limit,
            scale_period_s=scale_period_s,
            max_memory_used_mb=max_memory_used_mb,
            max_records=max_records,
            function=function,
            snap_start=snap_start,
            restore=None if restore is None else as_model("restore", restore),
            extensions=extensions,
            extension_init=None if extension_init is None else as_model("extension_init", extension_init),
            extension_post=None if extension_post is None else as_model("extension_post", extension_post),
            max_concurrency_per_environment=max_concurrency_per_environment,
            max_environments=max_environments,
            min_environments=min_environments,
            tenants=tenants,
        )
        self.seed = random.SystemRandom().randrange(2**63) if seed is None else int(seed)
        self.scheduler_factory: SchedulerFactory = scheduler_factory or Scheduler

    def __repr__(self) -> str:
        s = self.scenario
        return (
            f"Simulation({self.pattern!r}, service={s.service!r}, keep_alive_s={s.keep_alive_s:g}, "
            f"concurrency={s.concurrency}, provisioned={s.provisioned}, seed={self.seed})"
        )

    @classmethod
    def from_records(cls, df: Any, pattern: Any, **settings: Any) -> Simulation:
        """A simulation whose latencies are those of a real run: ``lab.invocations()``.

        Warm successful invocations give ``service``; cold ones give ``init`` (their init
        durations) and ``cold_service`` (init + duration); the memory size and peak come along.
        Any setting (``keep_alive_s=...``, ``seed=...``, even ``service=...``) may be overridden.
        """
        from lambdalab.sim.calibration import from_records

        return cls(pattern, **{**from_records(df), **settings})

    @classmethod
    def calibrate(cls, records: Any, pattern: Any = None, **settings: Any) -> Simulation:
        """A simulation calibrated from a real run, on this machine or on AWS Lambda: ``from_records``.

        ``records`` is an invocations table (``lab.invocations()`` of a ``lambdalab.Lab`` or a
        ``lambdalab.aws.Lab``), or a Lab or Function whose ``invocations()`` is read. ``pattern`` is the traffic
        to simulate; None: a steady 1 request a second. Rows a remote run could not complete (an empty
        ``environment_id``, no init duration on a warm row) calibrate as well as local ones; settings override.

        For example, a minute at 1,000 requests a second with the latencies of a run on AWS Lambda::

            sim = Simulation.calibrate(aws_lab.invocations(), lambdalab.load.Constant(1000), seed=1)
            sim.run(duration_s=60).summary.cold_starts
        """
        from lambdalab.sim.calibration import Steady, from_records, records_of

        chosen = Steady(1.0) if pattern is None else pattern
        return cls(chosen, **{**from_records(records_of(records)), **settings})

    # -- running ----------------------------------------------------------------------------------
    def run(self, duration_s: object = None, count: object = None) -> SimulationResult:
        """Simulate ``duration_s`` seconds and/or the first ``count`` requests; the same seed, the same result.

        With ``duration_s`` the horizon is exactly that long (what is still running is cut there);
        otherwise the run ends when the last request has finished.
        """
        # typed as object: a bad value reaches check_run's ConfigError, not the compiled signature's TypeError
        length, limit = check_run(self.pattern, duration_s, count)
        started = time.perf_counter()
        run = _Run(self, length, limit)
        run.kernel.run(math.inf if length is None else length)
        horizon = run.kernel.now if length is None else length
        run.kernel.advance(horizon)
        tally, scenario = run.tally, self.scenario
        pools = run.scheduler.entry(scenario.function).all_pools()
        tally.close(horizon, [env for pool in pools for env in pool.environments.values()])
        summary = summarize(
            tally, horizon, scenario.provisioned, scenario.snap_start, scenario.max_concurrency_per_environment
        )
        return SimulationResult(
            summary, tally, seed=self.seed, wall_s=time.perf_counter() - started, steps=run.kernel.steps
        )


class _Run:
    """The objects of one run, and its arrivals."""

    def __init__(self, simulation: Simulation, duration_s: float | None, count: int | None) -> None:
        scenario, seed = simulation.scenario, simulation.seed
        self.scenario = scenario
        # Not Random(seed): a pattern seeded with the same number (Poisson(rate, seed=1) beside
        # seed=1) would then draw the very same uniforms, correlating arrivals with service times.
        rng = random.Random(f"lambdalab.sim:{seed}")
        self.kernel = kernel = Kernel()
        limits = AccountLimits(
            concurrency=scenario.concurrency,
            unreserved_floor=0,
            scale_limit=scenario.scale_limit,
            scale_period_s=scenario.scale_period_s,
        )
        self.scheduler = scheduler = simulation.scheduler_factory(limits, IdFactory(f"sim:{seed}").next_environment_id)
        self.tally = Tally(kernel, scenario.function, scenario.memory_mb, scenario.max_records)
        timing = Timing(
            warm=scenario.service.sampler(rng),
            init=scenario.init.sampler(rng),
            cold=None if scenario.cold_service is None else scenario.cold_service.sampler(rng),
            error_probability=scenario.error_probability,
            max_memory_mb=scenario.max_memory_used_mb,
            rng=rng,
            restore=None if scenario.restore is None else scenario.restore.sampler(rng),
            extension_init=None if scenario.extension_init is None else scenario.extension_init.sampler(rng),
            extension_post=None if scenario.extension_post is None else scenario.extension_post.sampler(rng),
            extensions=scenario.extensions,
            overrun=scenario.max_concurrency_per_environment is not None,
            tenants=scenario.tenants,
        )
        self.asynchronous = scenario.invocation_type == "Event"
        queue = EventQueue(1.0) if self.asynchronous else None
        self.driver = driver = Driver(kernel, scheduler, timing, self.tally, queue)
        self._deploy(scenario)
        self.sent = 0
        self.limit = count if count is not None else math.inf
        self.end = math.inf if duration_s is None else duration_s  # no request is sent from here on
        self.watch_end = duration_s is None  # then stop when the last request has finished
        self.think_s: float | None = None  # a closed loop's think time (set by _start)
        self._offsets: Iterator[float] = iter(())
        # _start's result, not the attribute: mypy (so mypyc) would still take it to be None here
        self.think_s = think_s = self._start(simulation.pattern, duration_s)
        if self.watch_end or think_s is not None:
            driver.on_finished = self._finished

    def _deploy(self, scenario: Scenario) -> None:
        scheduler, perform, name = self.scheduler, self.driver.perform, scenario.function
        spec = EnvironmentSpec(
            name,
            LATEST,
            "python",
            scenario.memory_mb,
            scenario.timeout_s,
            scenario.max_concurrency_per_environment is None,  # Managed Instances never freezes
            scenario.init_timeout_s,
            logs=False,
            warm_choice=scenario.warm_choice,
            extensions=scenario.extensions,
            per_environment=scenario.max_concurrency_per_environment or 0,
            max_environments=scenario.max_environments,
            min_environments=_prestarted(scenario),
            tenancy=scenario.tenants > 0,
        )
        self.driver.instant_init = True  # Managed Instances: its environments were ready before the run (at publish)
        perform(scheduler.deploy(spec, self._keep_alive(scenario), 0.0))
        self.driver.instant_init = False
        if scenario.snap_start:
            _publish_snapshot(scheduler.entry(name).pools[LATEST])
        try:
            scheduler.reserve(name, scenario.reserved)
        except ValueError as exc:
            raise ConfigError(f"invalid reserved: {exc}") from None
        perform(scheduler.provision(name, LATEST, scenario.provisioned, 0.0))

    @staticmethod
    def _keep_alive(scenario: Scenario) -> KeepAlivePolicy:
        if scenario.keep_alive_policy == "hybrid":
            return HybridHistogramKeepAlive(fallback_s=scenario.keep_alive_s)
        return FixedKeepAlive(scenario.keep_alive_s)

    # -- arrivals ---------------------------------------------------------------------------------
    def _start(self, pattern: Any, duration_s: float | None) -> float | None:
        """Schedule the first arrivals; a closed loop's think time, or None for an open-loop pattern."""
        if hasattr(pattern, "clients") and not hasattr(pattern, "offsets"):  # ClosedLoop
            for _ in range(min(int(pattern.clients), int(min(self.limit, 2**62)))):
                self.kernel.schedule(0.0, ARRIVAL, self._arrive_closed)
            return float(pattern.think_s)
        offsets = pattern.offsets(duration_s) if callable(getattr(pattern, "offsets", None)) else iter(pattern)
        self._offsets = _bounded(offsets, duration_s)
        self._next_arrival()
        return None

    def _next_arrival(self) -> None:
        if self.sent >= self.limit:
            return
        at = next(self._offsets, None)
        if at is None:
            self.limit = self.sent  # the pattern has ended
            self._check_done()
            return
        if at < self.kernel.now:
            raise ConfigError(f"invalid pattern: offset {at!r} comes before the previous one ({self.kernel.now!r})")
        self.kernel.schedule(at, ARRIVAL, self._arrive_open)

    def _arrive_open(self, _: object) -> None:
        self._send()
        self._next_arrival()

    def _arrive_closed(self, _: object) -> None:
        if self.sent < self.limit:
            self._send()

    def _send(self) -> bool:
        n = self.sent
        self.sent = n + 1
        tally, driver = self.tally, self.driver
        tally.arrived()
        request_id = str(n).zfill(12)  # (formatting with a spec, "%012x" or f"{n:012x}", costs twice as much)
        if self.asynchronous:
            scenario = self.scenario
            driver.enqueue(
                QueuedEvent(
                    request_id,
                    scenario.function,
                    None,
                    _PAYLOAD,
                    self.kernel.now,
                    scenario.max_event_age_s,
                    scenario.max_retry_attempts,
                )
            )
            return True
        if driver.submit(request_id):
            return True
        self._finished(False)
        return False

    def _finished(self, answered: bool) -> None:
        """A request ended: answered (also an async event reaching its destination) or throttled."""
        kernel = self.kernel
        if self.think_s is not None and self.sent < self.limit:
            at = kernel.now + (self.think_s if answered or self.think_s > 0 else THROTTLE_RETRY_S)
            if at < self.end:
                kernel.schedule(at, ARRIVAL, self._arrive_closed)
        self._check_done()

    def _check_done(self) -> None:
        """Without a duration, the run ends when every request has been sent and has ended."""
        if self.watch_end and self.sent >= self.limit:
            tally = self.tally
            done = sum(tally.destinations.values()) if self.asynchronous else tally.completed + tally.throttles
            if done >= self.sent:
                self.kernel.stop()


def _publish_snapshot(pool: Pool) -> None:
    """SnapStart: the version's snapshot is taken at publish, before the run (its init is not simulated)."""
    template_effects = pool.take_snapshot(0.0)
    template = pool.template
    assert template is not None and template_effects
    for event in (RestoreNextRequested(template.id, 1, 0.0), SnapshotTaken(template.id, 1, 0.0)):
        if template.state is State.STARTING:
            pool.handle(ProcessStarted(template.id, 1, 0.0))
        pool.handle(event)
    assert pool.snapshot == "ready", pool.snapshot


def _prestarted(scenario: Scenario) -> int:
    """Managed Instances: the environments started at publish and kept (``FunctionConfig.prestarted_environments``)."""
    if scenario.max_concurrency_per_environment is None:
        return 0
    least = MANAGED_INSTANCES_MIN_ENVIRONMENTS if scenario.min_environments is None else scenario.min_environments
    return least if scenario.max_environments is None else min(least, scenario.max_environments)


def _bounded(offsets: Iterable[float], duration_s: float | None) -> Iterator[float]:
    if duration_s is None:
        return iter(offsets)
    end = duration_s
    return itertools.takewhile(lambda t: t < end, iter(offsets))
