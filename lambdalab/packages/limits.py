"""Lambda's limits on the size of a function's code: one place, below both the packages and the engine.

The configuration checks them (``lambdalab.config``, through ``layer_rules``) and so does the engine
when it unpacks; the simulator, which reaches the configuration, must not reach the engine for them.
"""

from __future__ import annotations

from typing import Final

ZIPPED_MAX_BYTES: Final = 50 * 1024 * 1024  # 52,428,800: a .zip uploaded directly (not through S3)
UNZIPPED_MAX_BYTES: Final = 250 * 1024 * 1024  # 262,144,000: the package and all its layers, unzipped
