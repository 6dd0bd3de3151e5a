"""Faults injected into the real system while a session streams real shop screenshots through the real capture
client: the broker restarted, frozen for 20 s, each service SIGKILLed and restarted, poison on every input topic.

Faults are grouped (one session per group, each fault hitting it mid-way once the previous one has recovered) to
keep the suite to a few minutes. After each group, the test asserts the pipeline's promises:
- every frame the gateway answered 202 for is accounted for: in a summary's window or in the dead letters with a
  reason (nothing silently lost);
- no duplicate visible recommendation and window_seq never goes backwards: what the storefront shows (polled like
  a shop page) never repeats or goes back; on the recommendations topic a window may be re-sent after a crash
  (at-least-once), but only as the same recommendation, and a new window_seq is always higher than all before;
- the system recovers without manual action, after each fault: every service is ready again within READY_BOUND_S
  and a recommendation built from a frame captured after the fault was lifted shows within RECOVERY_BOUND_S.
  The measured times are printed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import pytest
from kafka import KafkaProducer

from infra.local.stack import tail
from services.common.keys import session_key
from services.common.topics import FEEDBACK, FRAMES, OPT_REQUESTS, RECOMMENDATIONS, SUMMARIES
from tests.support import (
    FrameSender,
    StorefrontWatcher,
    dead_letters,
    first_problem_in_windows,
    frames_accounted,
    recommendation_windows,
    republished,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

# Stated recovery bounds, from the moment a fault is lifted (process respawned, broker back): every service
# answers ready within READY_BOUND_S (a Faust worker's start, group rebalance and table recovery), and the
# storefront shows a recommendation built from a frame captured after that moment within RECOVERY_BOUND_S. That
# one includes working off the backlog the fault left (OCR first): on a 2-core machine shared with other test
# runs (load average 20-25) it measured 9-25 s, and up to 62 s in an earlier, busier run. The figures are
# printed and in the README.
READY_BOUND_S = 60.0
RECOVERY_BOUND_S = 150.0
# Accounting waits for the summarizer to work off its backlog; it proves nothing is lost, not how fast.
ACCOUNTING_TIMEOUT_S = 300.0
KILL_DOWNTIME_S = 3.0
FREEZE_S = 20.0


def kill_and_restart(service: str) -> Callable:
    def inject(stack, broker, session_id) -> int:
        stack.kill(service)
        time.sleep(KILL_DOWNTIME_S)  # frames keep coming while it is down
        lifted = int(time.time() * 1000)
        stack.spawn(service)
        return lifted
    return inject


def restart_broker(stack, broker, session_id) -> int:
    broker.stop()  # SIGTERM: a controlled shutdown, as in a rolling restart
    time.sleep(2.0)
    started = broker.start()
    print(f"broker answered again {started:.1f} s after its start")
    return int(time.time() * 1000)


def freeze_broker(stack, broker, session_id) -> int:
    broker.pause()  # SIGSTOP: connections stay open but nothing answers, as with a network partition
    try:
        time.sleep(FREEZE_S)
    finally:
        broker.resume()
    return int(time.time() * 1000)


POISON = b"\x08\x96\x01\xff\xfe not a protobuf message"


def poison_every_input(stack, broker, session_id) -> int:
    """Undecodable bytes under the live session's own key on every topic a service consumes."""
    key = session_key("demo", session_id).encode()
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    for topic in (FRAMES, SUMMARIES, OPT_REQUESTS, RECOMMENDATIONS, FEEDBACK):
        producer.send(topic.name, key=key, value=POISON)
    producer.flush(30)
    producer.close()
    return int(time.time() * 1000)


# Grouped to keep the suite short: one session per group, faults in turn, each one hitting the session mid-way
# (right after the previous one recovered). Every fault's recovery is still asserted and printed on its own.
GROUPS = {
    "poison": [("poison-every-input-topic", poison_every_input)],
    "sigkill-each-service": [(f"sigkill-{name}", kill_and_restart(name))
                             for name in ("summarizer", "decomposer", "optimizer", "storefront-api", "gateway")],
    "broker": [("broker-restart", restart_broker), (f"broker-unreachable-{FREEZE_S:.0f}s", freeze_broker)],
}


@pytest.mark.parametrize("group", list(GROUPS))
def test_session_survives_faults(fault_stack, fault_broker, shop_visits, group, capsys):
    stack = fault_stack
    session_id = f"{group}-{uuid.uuid4().hex[:6]}"
    watcher = StorefrontWatcher(stack, session_id).start()
    sender = FrameSender(stack, session_id, shop_visits).start()
    try:
        try:
            # Mid-session: the session has state worth losing (a recommendation) when the first fault hits.
            assert wait_for(lambda: watcher.seen, 90), f"no recommendation before the fault; {_logs(stack)}"
            for name, inject in GROUPS[group]:
                lifted_ms = inject(stack, fault_broker, session_id)
                recovery_s, ready_in = _recovery(stack, watcher, time.monotonic(), lifted_ms)
                with capsys.disabled():  # the measured recovery is part of the result: shown even when it passes
                    print(f"\n[{name}] recovery: every service ready "
                          + (f"{ready_in:.1f} s" if ready_in is not None else "NEVER")
                          + ", recommendation from a frame captured after the fault shown "
                          + (f"{recovery_s:.1f} s" if recovery_s is not None else "NEVER") + " after it was lifted")
                assert ready_in is not None and ready_in <= READY_BOUND_S, (
                    f"{name}: not ready after {READY_BOUND_S:.0f} s: {stack.not_ready()}; {_logs(stack)}")
                assert recovery_s is not None and recovery_s <= RECOVERY_BOUND_S, (
                    f"{name}: no recommendation from a frame captured after the fault within "
                    f"{RECOVERY_BOUND_S:.0f} s; {_logs(stack)}")
        finally:
            result = sender.stop()
        print(f"[{group}] frames: {len(result.accepted)} accepted (202), {result.duplicates} exact duplicates, "
              f"{result.failed} failed, {result.retried} retries")
        assert result.failed == 0, "the capture client gave up on frames (it must retry through the fault)"
        assert result.accepted, "the gateway accepted no frame"

        # Every 202'd frame is in a summary's window or in the dead letters with a reason.
        def settled():
            acc = frames_accounted(stack.bootstrap, session_id, result.accepted)
            return acc if not acc.missing else None

        acc = wait_for(settled, ACCOUNTING_TIMEOUT_S, interval_s=2.0)
        if acc is None:
            acc = frames_accounted(stack.bootstrap, session_id, result.accepted)
            pytest.fail(f"{len(acc.missing)} of {len(result.accepted)} accepted frames are in no summary and no "
                        f"dead letter: {[(a.seq, a.partition, a.offset) for a in acc.missing][:20]}; {_logs(stack)}")
        print(f"[{group}] accounted: {acc.in_summaries} in summaries, {acc.in_dead_letters} dead-lettered "
              f"{acc.dead_letter_reasons}")
    finally:
        watcher.stop()

    # No duplicate recommendation, window_seq never backwards: on the topic, and as the storefront showed it.
    published = recommendation_windows(stack.bootstrap, session_id)
    problem = first_problem_in_windows(published)
    assert problem is None, problem
    shown_seqs = [seq for seq, *_ in watcher.seen]
    assert shown_seqs == sorted(set(shown_seqs)), f"the storefront showed {shown_seqs}"
    print(f"[{group}] {len(published)} recommendations published ({republished(published)} re-sent after a "
          f"crash), window_seq never backwards; the storefront showed {len(shown_seqs)}, each once, in order")
    if group == "poison":
        _assert_poison_dead_lettered(stack, session_id)


def _recovery(stack, watcher: StorefrontWatcher, lifted: float, lifted_ms: int) -> tuple[float | None, float | None]:
    """Seconds from the fault's end until (a) the storefront showed a recommendation built from a frame captured
    after it, (b) every service answered ready; None for what did not happen within the bound (+5 s)."""
    shown = ready = None
    deadline = lifted + RECOVERY_BOUND_S + 5
    while (shown is None or ready is None) and time.monotonic() < deadline:
        if ready is None and not stack.not_ready():
            ready = time.monotonic() - lifted
        if shown is None and (at := watcher.first_after(lifted_ms)) is not None:
            shown = at - lifted
        time.sleep(0.2)
    return shown, ready


def _assert_poison_dead_lettered(stack, session_id: str) -> None:
    key = session_key("demo", session_id)
    letters = [d for d in dead_letters(stack.bootstrap) if d.value == POISON and d.key.decode() == key]
    by_topic = {d.source_topic: d for d in letters}
    for topic, stage in ((FRAMES, "summarizer"), (SUMMARIES, "decomposer"), (OPT_REQUESTS, "optimizer")):
        assert topic.name in by_topic, f"no dead letter for the poison on {topic.name}: {sorted(by_topic)}"
        d = by_topic[topic.name]
        assert d.stage == stage and d.error_type and d.error_message, d
        assert d.reason == "bad_message" and d.attempts == 1, d  # permanent: not retried
    # Every storefront replica reads the compacted recommendations topic: it counts and skips what it cannot read
    # (re-dead-lettering it from every replica would multiply it).
    metrics = httpx.get(f"{stack.storefront_url}/metrics", timeout=5).text
    from prometheus_client.parser import text_string_to_metric_families

    undecodable = sum(sample.value for family in text_string_to_metric_families(metrics)
                      for sample in family.samples if sample.name == "interarec_storefront_api_records_total"
                      and sample.labels.get("outcome") == "undecodable"
                      and sample.labels.get("topic") == RECOMMENDATIONS.name)
    assert undecodable >= 1, "storefront did not count it"


def _logs(stack) -> str:
    return "\n".join(f"--- {s.name}\n{tail(s.log_path, 8)}" for s in stack.services)

