"""The reuse chart of a tenant-isolated function: environments grouped by tenant, each group named, and the
subtitle saying whether an environment ever served two tenants; tables without tenants drawn as before."""

from __future__ import annotations

import pandas as pd

import lambdalab.viz as viz


def _table(plan: list[tuple[str, str | None, int]]) -> pd.DataFrame:
    """One row per request: (environment, tenant, requests) in order of first use; the first request of each is cold."""
    rows, t = [], 0
    for environment, tenant, count in plan:
        for k in range(count):
            t += 1
            rows.append({"request_id": f"r{t}", "environment_id": environment, "tenant_id": tenant, "cold": k == 0,
                         "status": "success", "submitted": float(t), "start": float(t), "end": t + 0.1})  # fmt: skip
    return pd.DataFrame(rows)


def test_environments_are_grouped_by_tenant_and_each_group_named():
    fig = viz.reuse(_table([("e1", "a", 3), ("e2", "b", 2), ("e3", "a", 1), ("e4", "c", 4)]))
    cold, _, warm = fig.data
    assert list(cold.customdata) == ["e1, tenant a", "e3, tenant a", "e2, tenant b", "e4, tenant c"]
    assert list(warm.y) == [2, 0, 1, 3] and list(cold.y) == [1, 1, 1, 1]
    assert [a.text for a in fig.layout.annotations] == ["tenant a", "tenant b", "tenant c"]
    assert [s.x0 for s in fig.layout.shapes] == [2.5, 3.5]  # between a's two environments and b's, b's and c's
    assert fig.layout.title.subtitle.text.endswith("3 tenants, each in environments of its own")


def test_an_environment_serving_two_tenants_is_said():
    fig = viz.reuse(_table([("e1", "a", 2), ("e1", "b", 1)]))
    assert "1 environment served more than one" in fig.layout.title.subtitle.text


def test_a_table_without_tenants_is_drawn_as_before():
    plain = _table([("e1", None, 2), ("e2", None, 1)])
    for table in (plain, plain.drop(columns=["tenant_id"])):
        fig = viz.reuse(table)
        assert not fig.layout.annotations and not fig.layout.shapes
        assert "tenant" not in fig.layout.title.subtitle.text
        assert list(fig.data[0].customdata) == ["e1", "e2"]
