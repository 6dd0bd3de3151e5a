import asyncio

from interarec.v1 import recommendations_pb2
from services.storefront_api.latest import LatestRecommendations, to_json


def rec(session: str, seq: int, pid: str = "P00001", tenant: str = "acme") -> recommendations_pb2.Recommendation:
    r = recommendations_pb2.Recommendation(session_id=session, tenant=tenant, window_seq=seq, expected_revenue=12.5)
    r.items.add(product_id=pid, title="Norda Trail Shoe", price=99.0, choice_probability=0.2)
    r.request.summary.narrative = f"window {seq}"
    return r


def test_never_goes_backwards_and_ignores_duplicates():
    store = LatestRecommendations()
    assert store.offer(rec("s", 2))
    assert not store.offer(rec("s", 2))
    assert not store.offer(rec("s", 1))
    assert store.get("acme", "s").window_seq == 2
    assert store.offer(rec("s", 3))
    assert store.get("acme", "s").window_seq == 3


def test_subscribers_get_only_newer_updates():
    async def scenario():
        store = LatestRecommendations(queue_size=2)
        queue = store.subscribe("acme", "s")
        store.offer(rec("s", 1))
        store.offer(rec("s", 1))
        store.offer(rec("other", 5))
        got = queue.get_nowait()
        assert got.window_seq == 1 and queue.empty()
        for seq in (2, 3, 4):
            store.offer(rec("s", seq))
        # a slow reader keeps the newest states, not a growing backlog
        assert [queue.get_nowait().window_seq for _ in range(queue.qsize())] == [3, 4]
        store.unsubscribe("acme", "s", queue)
        store.offer(rec("s", 9))
        assert queue.empty()

    asyncio.run(scenario())


def test_session_count_is_bounded():
    store = LatestRecommendations(max_sessions=3)
    for i in range(5):
        store.offer(rec(f"s{i}", 1))
    assert len(store) == 3 and store.get("acme", "s0") is None and store.get("acme", "s4") is not None


def test_json_view_carries_items_and_explaining_summary():
    body = to_json(rec("s", 7))
    assert body["window_seq"] == 7
    assert body["items"][0]["product_id"] == "P00001"
    assert body["summary"]["narrative"] == "window 7"


def test_tenants_never_see_each_others_sessions():
    store = LatestRecommendations()
    assert store.offer(rec("s", 3, pid="P00003", tenant="acme"))
    assert store.offer(rec("s", 1, pid="P00001", tenant="globex"))  # same session id, another tenant
    assert store.get("acme", "s").items[0].product_id == "P00003"
    assert store.get("globex", "s").items[0].product_id == "P00001"
    assert store.get("initech", "s") is None and store.history("initech", "s") == []
    assert not store.offer(rec("s", 9, tenant=""))  # a record without a tenant belongs to nobody


def test_history_is_bounded_and_resumes_after_a_window():
    async def scenario():
        store = LatestRecommendations(history_size=3)
        queue = store.subscribe("globex", "s")
        for seq in (1, 2, 4, 5):
            store.offer(rec("s", seq))
        assert [r.window_seq for r in store.history("acme", "s")] == [2, 4, 5]
        assert [r.window_seq for r in store.after("acme", "s", 2)] == [4, 5]
        assert store.after("acme", "s", 5) == []
        assert queue.empty()  # another tenant's subscriber on the same session id hears nothing

    asyncio.run(scenario())
