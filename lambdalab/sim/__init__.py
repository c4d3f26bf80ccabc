"""The simulator: the same core as the engine, driven by a virtual clock.

>>> from lambdalab.sim import Simulation, Exponential                  # doctest: +SKIP
>>> from lambdalab.load import Poisson
>>> sim = Simulation(Poisson(0.9, seed=1), service=Exponential(1.991), cold_service=Exponential(2.244),
...                  keep_alive_s=600, seed=1)
>>> sim.run(duration_s=86_400).summary.cold_start_probability

Layer L1, beside ``lambdalab.engine`` and independent of it: imports only ``lambdalab.core``,
``lambdalab.config``, ``lambdalab.errors`` and (lazily, for DataFrames) pandas.
"""

from lambdalab.sim.kernel import Kernel
from lambdalab.sim.latency import Constant, Empirical, Exponential, LatencyModel, LogNormal
from lambdalab.sim.result import MANAGED_INSTANCES_PRICES, PRICES, SimulationResult, SimulationSummary
from lambdalab.sim.scenario import Scenario
from lambdalab.sim.simulation import Simulation

__all__ = [
    "MANAGED_INSTANCES_PRICES",
    "PRICES",
    "Constant",
    "Empirical",
    "Exponential",
    "Kernel",
    "LatencyModel",
    "LogNormal",
    "Scenario",
    "Simulation",
    "SimulationResult",
    "SimulationSummary",
]
