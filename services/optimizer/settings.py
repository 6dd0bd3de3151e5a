"""The optimizer's settings, each variable declared once (services/common/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.settings import nested, setting
from services.common.worker import WorkerSettings
from services.core import business_rules
from services.core.assortment.recommendation import image_base_setting

SOLVERS = ("threshold", "highs", "pyomo")


@dataclass(frozen=True)
class OptimizerSettings:
    worker: WorkerSettings = nested(WorkerSettings)
    port: int = setting("INTERAREC_OPTIMIZER_PORT", 8603, "the optimizer's /metrics, /healthz and /readyz port",
                        minimum=1, maximum=65535)
    solver: str = setting("INTERAREC_OPTIMIZER_SOLVER", "threshold",
                          "`threshold` (exact search on arrays, fastest), `highs` (LP/MILP from arrays) or `pyomo` "
                          "(reference model, slow)", choices=SOLVERS)
    solver_threads: int = setting("INTERAREC_OPTIMIZER_SOLVER_THREADS", 2,
                                  "solver threads (one slow request does not hold up other sessions)",
                                  minimum=1, maximum=64)
    time_limit_ms: int = setting("INTERAREC_OPTIMIZER_TIME_LIMIT_MS", 500,
                                 "time limit per solve; then the best feasible answer is published",
                                 minimum=1, maximum=600_000)
    feedback: str = setting("INTERAREC_OPTIMIZER_FEEDBACK", "on",
                            "`off` ranks by the model alone, ignoring learned feedback", choices=("on", "off"))
    rules: dict[str, tuple[business_rules.Rule, ...]] = business_rules.rules_setting()  # per tenant
    image_base_url: str = image_base_setting()

    @property
    def time_limit_s(self) -> float:
        return self.time_limit_ms / 1000

    @property
    def learn_from_feedback(self) -> bool:
        return self.feedback == "on"
