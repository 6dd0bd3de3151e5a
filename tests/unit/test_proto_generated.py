"""The generated protobuf code must match the .proto sources (regenerate with `make proto`)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto"


def test_generated_code_is_current(tmp_path):
    pytest.importorskip("grpc_tools")
    sources = sorted(str(p.relative_to(PROTO)) for p in (PROTO / "interarec" / "v1").glob("*.proto"))
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO}", f"--python_out={tmp_path}",
                    f"--pyi_out={tmp_path}", *sources], check=True, cwd=PROTO)
    fresh = sorted(tmp_path.rglob("*_pb2.py*"))
    assert fresh, "protoc generated nothing"
    stale = [p.relative_to(tmp_path) for p in fresh
             if not (PROTO / p.relative_to(tmp_path)).exists()
             or (PROTO / p.relative_to(tmp_path)).read_bytes() != p.read_bytes()]
    assert not stale, f"generated code is stale for {stale}: run `make proto`"
    committed = {p.relative_to(PROTO) for p in (PROTO / "interarec" / "v1").glob("*_pb2.py*")}
    assert committed == {p.relative_to(tmp_path) for p in fresh}, "generated files without a .proto source"


def test_every_message_carries_session_and_trace():
    from interarec.v1 import (
        dead_letters_pb2,
        feedback_pb2,
        frames_pb2,
        optimization_pb2,
        recommendations_pb2,
        summaries_pb2,
    )

    for cls in (frames_pb2.Frame, summaries_pb2.BehaviourSummary, optimization_pb2.OptimizationRequest,
                recommendations_pb2.Recommendation, feedback_pb2.Feedback, dead_letters_pb2.DeadLetter):
        assert "session_id" in cls.DESCRIPTOR.fields_by_name, cls
    for cls in (summaries_pb2.BehaviourSummary, optimization_pb2.OptimizationRequest,
                recommendations_pb2.Recommendation):
        assert {"window_seq", "trace"} <= set(cls.DESCRIPTOR.fields_by_name), cls
