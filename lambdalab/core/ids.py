"""Identifiers: environment ids as Lambda shows them (32 lowercase hex), made deterministically.

The core draws no random numbers: a driver passes a seed (random bytes in the engine, the
simulation's seed in the simulator) and ids follow from it.
"""

from __future__ import annotations

import hashlib
import itertools


class IdFactory:
    """``next_environment_id()`` gives a new 32-hex id; the same seed gives the same ids."""

    def __init__(self, seed: str) -> None:
        self._seed = seed.encode()
        self._counter = itertools.count()

    def next_environment_id(self) -> str:
        data = self._seed + b":" + str(next(self._counter)).encode()
        return hashlib.blake2b(data, digest_size=16).hexdigest()
