"""`interarec status`'s settings, each variable declared once (services/common/settings.py): the command's
option defaults."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.settings import from_env, setting


@dataclass(frozen=True)
class StatusSettings:
    namespace: str = setting("INTERAREC_NAMESPACE", "default", "`interarec status`: the release's namespace")
    release: str = setting("INTERAREC_RELEASE", "interarec", "`interarec status`: the Helm release")
    prometheus_url: str = setting("INTERAREC_PROMETHEUS_URL", "", "`interarec status`: read consumer lag from "
                                  "this Prometheus instead of each pod's /metrics", default_doc="none")

    @classmethod
    def from_env(cls) -> StatusSettings:
        return from_env(cls)
