"""Starts AWS's runtime client (``awslambdaric``, unchanged) the way Lambda's managed Python runtime does.

On Lambda the runtime client and everything it imports (json, logging, traceback, decimal, simplejson,
...) are loaded before the handler, so a ``logging.py`` or ``simplejson.py`` in the task root never
replaces them; the handler's own imports then follow sys.path, task root first. Started as
``python -B -P -S -u ric_bootstrap.py HANDLER`` with ``PYTHONPATH`` naming only where awslambdaric is
installed: -P keeps this folder off sys.path, the task root goes first only once the client is loaded.
"""

import os
import sys

from awslambdaric import __main__ as awslambdaric_main

sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd())

if __name__ == "__main__":
    awslambdaric_main.main(sys.argv)
