"""The export as a plan: frozen data saying every file to write, built with no I/O.

:func:`cellucid.sinks.folder.plan.build.make_plan` turns a summary of the checked inputs
(:class:`~cellucid.sinks.folder.plan.types.InputSummary`) and the
:class:`~cellucid.sinks.folder.plan.types.Settings` into an
:class:`~cellucid.sinks.folder.plan.types.ExportPlan`; the folder's section writers carry it out.
"""

from cellucid.sinks.folder.plan.build import make_plan
from cellucid.sinks.folder.plan.types import (
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
