"""The debug field of the function and result cards (lambdalab/jupyter/display.py): the port and whether a
debugger client is attached; nothing for a function without debug mode."""

from __future__ import annotations

import pytest

from lambdalab.jupyter import display

from ..engine.test_debug import Client
from .test_cards import card, fields

pytest.importorskip("debugpy")

SOURCE = "def handler(event, context):\n    return 1\n"


def test_cards_say_the_debug_port_and_whether_a_client_is_attached(lab, monkeypatch):
    fn = lab.create_function("dbg", SOURCE, debug=True)
    assert fields(card(display.function_html(fn)))["debug"] == "on"  # no environment yet
    result = fn.invoke({})
    port = fn.debug_ports()[result.environment_id]
    assert fields(card(display.function_html(fn)))["debug"] == f"127.0.0.1:{port} (waiting)"
    client = Client(port)
    try:
        client.attach()
        assert fields(card(display.function_html(fn)))["debug"] == f"127.0.0.1:{port} (attached)"
        assert display.function_of(result, [fn]) is fn
        monkeypatch.setattr(display, "_namespace", lambda: [fn])  # the notebook's namespace, where the card looks
        assert fields(card(display.result_html(result)))["debug"] == f"127.0.0.1:{port} (attached)"
    finally:
        client.close()


def test_a_function_without_debug_has_no_debug_field(lab):
    fn = lab.create_function("plain", SOURCE)
    result = fn.invoke({})
    assert "debug" not in fields(card(display.function_html(fn)))
    assert "debug" not in fields(card(display.result_html(result, code_sha="")))


def test_a_results_debug_field_is_of_the_version_that_ran_it(lab, monkeypatch):
    fn = lab.create_function("ver", SOURCE)
    plain = fn.invoke({}, qualifier=fn.publish())  # version 1: no debug
    fn.update(source=SOURCE.replace("1", "2"), debug=True)
    debugged = fn.invoke({})
    monkeypatch.setattr(display, "_namespace", lambda: [fn])
    assert "debug" not in fields(card(display.result_html(plain)))
    port = fn.debug_ports()[debugged.environment_id]
    assert fields(card(display.result_html(debugged)))["debug"] == f"127.0.0.1:{port} (waiting)"
