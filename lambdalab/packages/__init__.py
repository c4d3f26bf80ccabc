"""What a function ships besides its code: dependencies built like ``pip install -t``, layers, vendored folders.

- ``deps``: ``build_dependencies(requirements, cache_dir=...)`` → a cached, importable folder.
- ``layers``: ``LayerStore`` (publish, get, list, delete, resolve, view), ``load_layer_map``, and
  (re-exported from ``layer_rules``) Lambda's layer errors, record, limits and messages.
- ``opt``: ``merge`` of a function's layers into one ``/opt`` view (later wins, hard links).
- ``vendored``: what a task root puts on the import path, and the AWS docs' ``package/`` layout.

- ``limits``: Lambda's code size limits (50 MB zipped, 250 MB unzipped), below this package and the engine.

Rules: no api, no front-end imports here, and of the engine only its package helpers (``packages.zips``'s
unpacking, ``engine.code.tree_size``), never from ``layer_rules`` or ``limits``, which the configuration
(and so the simulator) imports; errors are ``ConfigError`` subclasses that carry Lambda's error code and
message.
"""
