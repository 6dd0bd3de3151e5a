"""Tenant origins and bearer parsing: the configuration a shop gets wrong gets a clear message."""

import pytest

from services.common import config
from services.common.session_tokens import bearer_token, token_secret_from_env
from services.common.tenants import TenantOrigins


def test_origins_per_tenant():
    origins = TenantOrigins.parse("acme=https://shop.acme.com, acme=https://www.acme.com/ ,globex=http://127.0.0.1:8700")
    assert origins.allows("acme", "https://www.acme.com")  # trailing slash normalised
    assert not origins.allows("acme", "http://127.0.0.1:8700")  # globex's origin is not acme's
    assert origins.known("http://127.0.0.1:8700") and not origins.known("https://evil.example")
    assert TenantOrigins.parse("").by_tenant == {}


@pytest.mark.parametrize("raw", ["acme", "acme=*", "acme=https://shop.acme.com/path", "Bad Tenant=https://x.com",
                                 "acme=ftp://x.com"])
def test_bad_origin_entries_are_refused(raw):
    with pytest.raises(config.ConfigError, match="INTERAREC_TENANT_ORIGINS"):
        TenantOrigins.parse(raw)


def test_bearer_header_parsing():
    assert bearer_token("Bearer v1.a.b") == "v1.a.b"
    assert bearer_token("bearer   v1.a.b ") == "v1.a.b"
    assert bearer_token("Basic dXNlcg==") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_token_secret_is_shared_and_checked(monkeypatch):
    monkeypatch.delenv("INTERAREC_STOREFRONT_TOKEN_SECRET", raising=False)
    assert token_secret_from_env() is None
    monkeypatch.setenv("INTERAREC_STOREFRONT_TOKEN_SECRET", "short")
    with pytest.raises(config.ConfigError, match="32"):
        token_secret_from_env()
    monkeypatch.setenv("INTERAREC_STOREFRONT_TOKEN_SECRET", "s" * 40)
    assert token_secret_from_env() == b"s" * 40
