from prometheus_client import CollectorRegistry, Gauge, generate_latest

from services.common.lag import LagPublisher, Partition, input_partitions, partition_lag

FRAMES = "interarec.frames.v1"
P0, P1, P2 = Partition(FRAMES, 0), Partition(FRAMES, 1), Partition(FRAMES, 2)


def test_lag_is_end_minus_committed_and_never_negative():
    lag = partition_lag(end={P0: 120, P1: 40}, committed={P0: 100, P1: 45}, beginning={P0: 0, P1: 0})
    assert lag == {P0: 20, P1: 0}


def test_a_never_committed_partition_counts_everything_retained():
    lag = partition_lag(end={P0: 120, P1: 50}, committed={P0: None}, beginning={P0: 30, P1: 10})
    assert lag == {P0: 90, P1: 40}


def test_only_input_topics_count_not_faust_internal_ones():
    assigned = [("interarec.frames.v1", 0), ("interarec-summarizer-sessions-changelog", 0),
                ("interarec-summarizer-__assignor-__leader", 0), ("interarec.frames.v1", 3)]
    assert input_partitions(assigned, "interarec-summarizer") == {P0, Partition("interarec.frames.v1", 3)}


def test_publish_drops_partitions_this_worker_no_longer_owns():
    registry = CollectorRegistry()
    gauge = Gauge("interarec_test_consumer_lag_messages", "lag", ["topic", "partition"], registry=registry)
    publisher = LagPublisher(gauge)
    publisher.publish({P0: 5, P1: 7})
    publisher.publish({P1: 3, P2: 0})  # a rebalance moved partition 0 elsewhere
    text = generate_latest(registry).decode()
    assert 'partition="0"' not in text
    assert 'interarec_test_consumer_lag_messages{partition="1",topic="interarec.frames.v1"} 3.0' in text
    assert 'interarec_test_consumer_lag_messages{partition="2",topic="interarec.frames.v1"} 0.0' in text
