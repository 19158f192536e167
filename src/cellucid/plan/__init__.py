"""The export as a plan: frozen data saying every file to write, built with no I/O.

:func:`cellucid.plan.build.make_plan` turns a summary of the checked inputs
(:class:`~cellucid.plan.types.InputSummary`) and the :class:`~cellucid.plan.types.Settings`
into an :class:`~cellucid.plan.types.ExportPlan`; the engine's section writers carry it out.
"""

from cellucid.plan.build import make_plan
from cellucid.plan.types import (
    EdgePlan,
    ExportPlan,
    GenePlan,
    InputSummary,
    ObsFieldPlan,
    ObsFieldSummary,
    Settings,
    VectorPlan,
)

__all__ = [
    "EdgePlan",
    "ExportPlan",
    "GenePlan",
    "InputSummary",
    "ObsFieldPlan",
    "ObsFieldSummary",
    "Settings",
    "VectorPlan",
    "make_plan",
]
