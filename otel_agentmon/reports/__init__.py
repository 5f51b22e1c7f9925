"""Reports over the embedded store: summaries of cost, latency, tokens and errors for a period,
as text or as one self-contained HTML page.

``build_report`` (``otel-agentmon report``), ``build_chargeback`` (``otel-agentmon chargeback``),
``build_optimization`` (``otel-agentmon optimize``); each returns a frozen dataclass, rendered by
the ``render_*`` functions of its module. ``write_html`` writes a report's HTML page.
"""

from otel_agentmon.reports._chargeback import Chargeback, ChargebackLine, build_chargeback
from otel_agentmon.reports._optimize import Optimization, Recommendation, build_optimization
from otel_agentmon.reports._report import AlertCondition, Report, build_report
from otel_agentmon.reports._time import InputError

__all__ = [
    "AlertCondition",
    "Chargeback",
    "ChargebackLine",
    "InputError",
    "Optimization",
    "Recommendation",
    "Report",
    "build_chargeback",
    "build_optimization",
    "build_report",
    "write_html",
]


def write_html(report: Report, path: str) -> None:
    """Write ``report`` as one self-contained HTML page with charts, atomically."""
    from otel_agentmon.reports._html_input import write_html as write

    write(report, path)
