"""The gateway's settings, each variable declared once (services/common/settings.py); the README's settings
table is generated from this class. Credentials (API keys, the token secret, tenant origins) have their own
parsers in services/common and are read by from_env() after the declared fields."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from services.common import config
from services.common import settings as declared
from services.common.session_tokens import token_secret_from_env
from services.common.settings import setting
from services.common.tenants import ApiKeys, TenantOrigins


@dataclass(frozen=True)
class GatewaySettings:
    host: str = setting("INTERAREC_GATEWAY_HOST", "127.0.0.1", "address the gateway listens on")
    port: int = setting("INTERAREC_GATEWAY_PORT", 8500, "the gateway's port", minimum=1, maximum=65535)
    workers: int = setting("INTERAREC_GATEWAY_WORKERS", 1,
                           "gateway processes sharing the port (each with its own producer, limits and metrics: "
                           "in a cluster, prefer replicas)", minimum=1, maximum=64)
    loop: str = setting("INTERAREC_GATEWAY_LOOP", "uvloop",
                        "the gateway's event loop: `uvloop` (libuv, less CPU per frame) or `asyncio`",
                        choices=("uvloop", "asyncio"))
    http: str = setting("INTERAREC_GATEWAY_HTTP", "httptools",
                        "the gateway's HTTP/1.1 parser: `httptools` (C, less CPU per frame) or `h11` (pure Python)",
                        choices=("httptools", "h11"))
    bootstrap: str = setting("INTERAREC_KAFKA_BOOTSTRAP_SERVERS", config.kafka_bootstrap, "broker list",
                             default_doc="`localhost:9092`")
    api_keys: ApiKeys = field(default_factory=lambda: ApiKeys({}))
    max_upload_bytes: int = setting("INTERAREC_GATEWAY_MAX_UPLOAD_BYTES", 8 * 1024 * 1024,
                                    "largest accepted frame body (bytes); a larger declared or streamed body is 413",
                                    minimum=1024, maximum=64 * 1024 * 1024)
    producer: str = setting("INTERAREC_GATEWAY_PRODUCER", "librdkafka",
                            "the Kafka client writing frames: `librdkafka` (confluent-kafka: batching and I/O in C, "
                            "less CPU per frame) or `kafka-python` (the other services' client); both acks=all, "
                            "idempotent, murmur2 partitioning", choices=("librdkafka", "kafka-python"))
    ack_timeout_s: float = setting("INTERAREC_GATEWAY_ACK_TIMEOUT_S", 10.0,
                                   "how long a frame may wait for the broker's ack (then 503)", minimum=0.1,
                                   maximum=120)
    linger_ms: int = setting("INTERAREC_GATEWAY_LINGER_MS", 5,
                             "how long a frame may wait for others to share its Kafka batch and produce request "
                             "(ms; the 202 still waits for the broker's ack)", minimum=0, maximum=100)
    max_in_flight: int = setting("INTERAREC_GATEWAY_MAX_IN_FLIGHT", 64,
                                 "frames between validation and the broker's ack at once, shared fairly between "
                                 "tenants; past a tenant's share, 429 `too_busy` with `Retry-After`",
                                 minimum=1, maximum=100_000)
    max_decodes: int = setting("INTERAREC_GATEWAY_MAX_DECODES", 4,
                               "images decoded at once on threads (PNG, WebP, oversized JPEG, or every JPEG with "
                               "the `decode` check), shared fairly between tenants", minimum=1, maximum=256)
    jpeg_check: str = setting("INTERAREC_GATEWAY_JPEG_CHECK", "structure",
                              "`structure`: a JPEG's markers, dimensions and end-of-image checked without decoding "
                              "(no pixel-level check: the summarizer's decode still refuses corrupt data, as a "
                              "dead letter); `decode`: also decoded at 1/8 scale on a decode slot",
                              choices=("structure", "decode"))
    rate_per_s: float = setting("INTERAREC_GATEWAY_RATE_PER_S", 100.0,
                                "frames per second per tenant on average; beyond, 429 `rate_limited`",
                                minimum=0.1, maximum=1_000_000)
    rate_burst: int = setting("INTERAREC_GATEWAY_RATE_BURST", 200, "frames per tenant in a burst",
                              minimum=1, maximum=10_000_000)
    token_secret: bytes | None = None  # browser session tokens (shared with the storefront API); None: keys only
    origins: TenantOrigins = setting("INTERAREC_TENANT_ORIGINS", lambda: TenantOrigins({}),
                                     "the web origins each tenant's shop pages are served from, `tenant=https://shop."
                                     "example` entries, comma-separated (repeat a tenant for several origins): the "
                                     "only origins the gateway answers CORS for and takes browser frames from",
                                     default_doc="none (no browser may post)", parse=TenantOrigins.parse)
    token_rate_per_s: float = setting("INTERAREC_GATEWAY_TOKEN_RATE_PER_S", 4.0,
                                      "frames per second per browser token on average (on top of the tenant's "
                                      "limit)", minimum=0.1, maximum=1000)
    token_rate_burst: int = setting("INTERAREC_GATEWAY_TOKEN_RATE_BURST", 8, "frames per browser token in a burst",
                                    minimum=1, maximum=10_000)

    max_lag_messages: int = setting("INTERAREC_GATEWAY_MAX_LAG_MESSAGES", 0,
                                    "back-pressure: while the summarizer's group is more frames behind than this "
                                    "on the frames topic, frames get 429 `pipeline_behind` with `Retry-After` "
                                    "(0: off)", minimum=0, maximum=100_000_000)
    lag_group: str = setting("INTERAREC_GATEWAY_LAG_GROUP", "interarec-summarizer",
                             "the consumer group whose lag on the frames topic is the back-pressure signal")
    lag_interval_s: float = setting("INTERAREC_GATEWAY_LAG_INTERVAL_S", 5.0,
                                    "how often that lag is read; also the `Retry-After` of `pipeline_behind`",
                                    minimum=0.2, maximum=300)

    @classmethod
    def from_env(cls) -> GatewaySettings:
        return dataclasses.replace(declared.from_env(cls), api_keys=ApiKeys.from_env(),
                                   token_secret=token_secret_from_env())
