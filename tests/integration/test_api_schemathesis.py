"""Schemathesis against both HTTP APIs (gateway and storefront), served by uvicorn against the real broker:
every documented operation gets generated requests, authenticated with a real key, and no answer may be a
server error or break the documented schema (status code, content type, body).

The example count per operation is bounded (EXAMPLES) so the run takes well under a minute. The SSE stream
is left out: it never ends by design, and test_storefront_api.py covers it."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from kafka import KafkaProducer
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from interarec.v1 import recommendations_pb2
from services.common.catalog import Catalog
from services.common.keys import session_key
from services.common.tenants import ApiKeys
from services.common.topics import RECOMMENDATIONS
from services.gateway.app import GatewaySettings
from services.gateway.app import create_app as create_gateway
from services.storefront_api.app import create_app as create_storefront
from tests.integration.test_storefront_api import ACME, Served
from tests.integration.test_storefront_api import settings as storefront_settings

pytestmark = pytest.mark.integration

EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def storefront_schema(kafka_bootstrap, catalog_path, kafka_broker_module):
    catalog = Catalog.load(catalog_path)
    # one real session, so generated requests for it can reach the success paths too
    rec = recommendations_pb2.Recommendation(session_id="abc123", tenant="acme", window_seq=5, expected_revenue=9.0)
    p = catalog.products[0]
    rec.items.add(product_id=p.product_id, title=p.title, brand=p.brand, category=p.category, colour=p.colour,
                  price=p.price, rating=p.rating, choice_probability=0.1, image_url=f"/images/{p.image}")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(RECOMMENDATIONS.name, key=session_key("acme", "abc123").encode(), value=rec.SerializeToString())
    producer.flush()
    producer.close()
    (port,) = kafka_broker_module.free_ports(1)
    app = create_storefront(storefront_settings(kafka_bootstrap, rate_per_s=1000.0, rate_burst=1000), catalog)
    with Served(app, port) as served:
        yield schemathesis.openapi.from_url(f"{served.url}/openapi.json").exclude(path_regex=r"/stream$")


@pytest.fixture(scope="module")
def gateway_schema(kafka_bootstrap, kafka_broker_module):
    (port,) = kafka_broker_module.free_ports(1)
    app = create_gateway(GatewaySettings(host="127.0.0.1", port=port, bootstrap=kafka_bootstrap,
                                         api_keys=ApiKeys.from_plain({"k-acme": "acme"}),
                                         max_upload_bytes=1024 * 1024, ack_timeout_s=5))
    with Served(app, port) as served:
        yield schemathesis.openapi.from_url(f"{served.url}/openapi.json")


SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])


def fuzz(schema, headers: dict) -> list[str]:
    """Run every operation's generated cases (positive data); return the operations it ran."""
    ran = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @SETTINGS
        def run(case):
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

        run()
        ran.append(f"{operation.method.upper()} {operation.path}")
    return ran


# (schemathesis.pytest.from_fixture would be the idiom, but it breaks on pytest 9: it reads a removed
# private attribute of the test node; driving Hypothesis directly is equivalent.)
def test_storefront_api_matches_its_schema(storefront_schema):
    ran = fuzz(storefront_schema, ACME)
    assert "POST /v1/sessions/{session_id}/feedback/batch" in ran and "POST /v1/query/text" in ran
    assert not any(op.endswith("/stream") for op in ran)


def test_gateway_matches_its_schema(gateway_schema):
    assert "POST /v1/sessions/{session_id}/frames" in fuzz(gateway_schema, {"X-API-Key": "k-acme"})
