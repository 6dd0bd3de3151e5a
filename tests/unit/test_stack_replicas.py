"""The local stack runs several summarizer replicas in one consumer group when asked
(INTERAREC_LOCAL_SUMMARIZER_REPLICAS), each as its own pod would be: own metrics port, own state directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.stack import Stack, StackError, summarizer_replicas, user_settings


def stack(replicas: int) -> Stack:
    return Stack(bootstrap="127.0.0.1:1", catalog_path=Path("c.parquet"), log_dir=Path("logs"), var_dir=Path("var"),
                 summarizer_replicas=replicas)


def test_replicas_share_the_group_but_not_ports_or_state():
    s = stack(3)
    plan = s.plan()
    summarizers = [svc for svc in plan if svc.module == "services.summarizer"]
    assert [svc.name for svc in summarizers] == ["summarizer", "summarizer-2", "summarizer-3"]
    ports = {svc.port for svc in plan}
    assert len(ports) == len(plan)  # every process answers on its own port
    state_dirs = {svc.env.get("INTERAREC_VAR_DIR", str(s.var_dir)) for svc in summarizers}
    assert len(state_dirs) == 3  # RocksDB locks its directory: replicas cannot share one
    for svc in summarizers[1:]:
        assert svc.env["INTERAREC_SUMMARIZER_PORT"] == str(svc.port)
    # the group id comes from the service name, the same for every replica: nothing per replica overrides it
    assert all(set(svc.env) <= {"INTERAREC_SUMMARIZER_PORT", "INTERAREC_VAR_DIR"} for svc in summarizers)
    assert [svc.name for svc in stack(1).plan()].count("summarizer") == 1
    assert len(stack(1).plan()) == len(plan) - 2


def test_the_replica_setting_is_checked_at_start():
    assert summarizer_replicas({}) == 1
    assert summarizer_replicas({"INTERAREC_LOCAL_SUMMARIZER_REPLICAS": "4"}) == 4
    for bad in ("0", "5", "two", ""):  # more than the frames topic's 4 partitions would sit idle
        with pytest.raises(StackError, match="INTERAREC_LOCAL_SUMMARIZER_REPLICAS"):
            summarizer_replicas({"INTERAREC_LOCAL_SUMMARIZER_REPLICAS": bad})


def test_the_replica_setting_configures_the_stack_not_the_services():
    chosen, ignored = user_settings({"INTERAREC_LOCAL_SUMMARIZER_REPLICAS": "2", "INTERAREC_SHOP_LAYOUT": "boutique"})
    assert chosen == {"INTERAREC_SHOP_LAYOUT": "boutique"} and ignored == []
