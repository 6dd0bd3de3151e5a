"""Fair shares of the gateway's bounded resources (services/gateway/admission.py), with the clock passed in."""

from services.gateway.admission import WAITING_S, FairSlots


def take(slots: FairSlots, tenant: str, n: int, now: float = 0.0) -> int:
    return sum(slots.try_acquire(tenant, now) for _ in range(n))


def test_a_lone_tenant_leaves_a_reserve_that_a_newcomer_gets():
    slots = FairSlots(8)
    assert take(slots, "a", 20) == 6  # 8 minus a reserve of 2
    assert take(slots, "b", 1) == 1


def test_after_a_refusal_the_others_shrink_to_their_share_as_they_release():
    slots = FairSlots(4)
    assert take(slots, "a", 3) == 3 and take(slots, "b", 1) == 1
    assert not slots.try_acquire("c", 0.0)  # full: c is refused but now counts as active
    slots.release("a")
    assert not slots.try_acquire("a", 0.1)  # a already holds 2 > 4 // 3: the freed slot waits for c
    assert slots.try_acquire("c", 0.2)
    slots.release("c")
    slots.release("b")
    assert take(slots, "a", 5, now=0.3 + WAITING_S) == 1  # c's claim has lapsed; a is alone again: 3 of 4


def test_one_slot_is_first_come_and_always_released():
    slots = FairSlots(1)
    assert slots.try_acquire("a", 0.0) and not slots.try_acquire("b", 0.0) and not slots.try_acquire("a", 0.0)
    slots.release("a")
    assert slots.in_use == 0 and slots.held == {} and slots.try_acquire("b", 0.0)
