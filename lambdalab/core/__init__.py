"""lambdalab's sans-I/O core: the lifecycle of execution environments, placement, records.

Pure and deterministic: no asyncio, subprocess, socket, threading, time, os or random (checked by
``tests/test_architecture.py``). Drivers (the engine, the simulator, tests) feed it events that
carry their own timestamps and perform the effects it returns.
"""

from lambdalab.core.lifecycle import TRANSITIONS, Environment, EnvironmentSpec, State
from lambdalab.core.pool import Pool, PoolStatistics

__all__ = ["TRANSITIONS", "Environment", "EnvironmentSpec", "Pool", "PoolStatistics", "State"]
