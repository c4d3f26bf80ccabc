"""A published version keeps the settings it was published with: a later change to $LATEST's settings with the same
code reaches $LATEST only (Lambda's versions are immutable: memory, timeout, environment variables, handler)."""

from __future__ import annotations

SOURCE = "import os\ndef handler(event, context):\n    return [context.memory_limit_in_mb, os.environ.get('COLOUR')]\n"


def test_a_published_version_keeps_its_settings_when_latest_changes_with_the_same_code(lab):
    fn = lab.create_function("frozen", SOURCE, env_vars={"COLOUR": "red"})
    assert fn.publish() == "1"
    fn.update(memory_mb=256, env_vars={"COLOUR": "blue"})  # same code: only the settings change
    assert fn.invoke({}).payload == ["256", "blue"]
    assert fn.invoke({}, qualifier="1").payload == ["128", "red"]
    info = fn.version_info("1")
    assert (info.config.memory_mb, dict(info.config.env_vars)) == (128, {"COLOUR": "red"})
    assert fn.publish() == "2"
    fn.update(memory_mb=512)
    assert fn.invoke({}, qualifier="2").payload == ["256", "blue"]
    assert fn.invoke({}, qualifier="1").payload == ["128", "red"]
    assert fn.invoke({}).payload == ["512", "blue"]
