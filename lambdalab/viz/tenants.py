"""Tenant isolation in the reuse chart: environments grouped by the tenant they served, each group marked.

A function created with ``tenancy="PER_TENANT"`` keeps every environment to one tenant (``lab.invocations()``'s
``tenant_id`` column). ``order`` numbers the environments tenant by tenant (tenants in order of first request, each
one's environments in order of first use), ``marks`` draws a dashed line between groups and names each group's
tenant above its bars, and ``sentence`` says how many tenants there were and whether any environment served two
(it never should). Tables without a ``tenant_id`` column, or with none set, are drawn as before (``order`` is None).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdalab.viz.colours import UI_COLOURS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def order(frame: pd.DataFrame, codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(environment indices in drawing order, each drawn environment's tenant, environments that served more than one
    tenant) for ``frame`` (rows by time, ``codes`` their environment's index of first use, ``n`` environments), or
    None when no row names a tenant."""
    import numpy as np

    if "tenant_id" not in frame.columns:
        return None
    tenants = frame["tenant_id"].to_numpy(dtype=object)
    named = np.array([t is not None and t == t for t in tenants], dtype=bool)  # t == t: not NaN
    if not named.any():
        return None
    first: dict[int, str] = {}
    seen: dict[int, set[str]] = {}
    for code, tenant in zip(codes[named].tolist(), tenants[named].tolist(), strict=True):
        first.setdefault(code, str(tenant))
        seen.setdefault(code, set()).add(str(tenant))
    rank: dict[str, int] = {}
    for code in sorted(first):  # tenants ranked by their first environment's first use
        rank.setdefault(first[code], len(rank))
    keys = [(rank.get(first.get(i, ""), len(rank)), i) for i in range(n)]
    perm = np.array([i for _, i in sorted(keys)], dtype=int)
    drawn = np.array([first.get(int(i), "") for i in perm], dtype=object)
    shared = sum(len(s) > 1 for s in seen.values())
    return perm, drawn, shared


def marks(tenants: np.ndarray) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(shapes, annotations): a dashed line between consecutive tenants' environments (bars at x = 1, 2, ...) and
    each tenant's name centred above its group."""
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    start = 0
    for index in range(1, len(tenants) + 1):
        if index < len(tenants) and tenants[index] == tenants[start]:
            continue
        if index < len(tenants):
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": index + 0.5,
                    "x1": index + 0.5,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": UI_COLOURS["muted"], "width": 1, "dash": "dash"},
                }
            )
        name = str(tenants[start]) or "no tenant"
        annotations.append(
            {
                "x": (start + 1 + index) / 2,
                "y": 1.0,
                "xref": "x",
                "yref": "paper",
                "yanchor": "bottom",
                "text": f"tenant {name}" if tenants[start] else name,
                "showarrow": False,
                "font": {"size": 11, "color": UI_COLOURS["muted"]},
            }
        )
        start = index
    return shapes, annotations


def sentence(tenants: np.ndarray, shared: int) -> str:
    """How the environments split by tenant, for the subtitle."""
    count = len({str(t) for t in tenants if t})
    plural = "s" if count != 1 else ""
    if shared:
        return f"{count} tenant{plural}; {shared} environment{'s' if shared != 1 else ''} served more than one"
    return f"{count} tenant{plural}, each in environments of its own"
