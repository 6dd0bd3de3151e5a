"""Hashed per-tenant API keys, session tokens, rate limits and stream slots."""

import pytest

from services.common import config
from services.common.ratelimit import RateLimiter, retry_after_header
from services.common.session_tokens import SessionTokens, TokenError
from services.common.tenants import DEMO_KEY, ApiKeys, hash_key
from services.storefront_api.access import StreamSlots


def test_keys_are_matched_by_hash_and_plain_keys_are_refused():
    keys = ApiKeys.parse([(f"acme:{hash_key('k-acme')}", "env"), (f"globex:{hash_key('k-globex')}", "env")],
                         demo=False)
    assert keys.tenant_for("k-acme") == "acme" and keys.tenant_for("k-globex") == "globex"
    assert keys.tenant_for("k-other") is None and keys.tenant_for("") is None and keys.tenant_for(None) is None
    assert keys.tenant_for(DEMO_KEY) is None  # no demo key unless demo mode is on
    assert "k-acme" not in repr(keys)
    with pytest.raises(config.ConfigError, match="hashed"):
        ApiKeys.parse([("acme:plain-key", "INTERAREC_API_KEYS")], demo=False)
    with pytest.raises(config.ConfigError, match="64 lower-case hex"):
        ApiKeys.parse([("acme:sha256$abc", "env")], demo=False)
    with pytest.raises(config.ConfigError, match="tenant"):
        ApiKeys.parse([(f"Bad Tenant:{hash_key('x')}", "env")], demo=False)
    with pytest.raises(config.ConfigError, match="two tenants"):
        ApiKeys.parse([(f"a:{hash_key('x')}", "env"), (f"b:{hash_key('x')}", "env")], demo=False)


def test_no_key_at_all_refuses_to_start_and_demo_mode_adds_only_the_demo_key():
    with pytest.raises(config.ConfigError, match="no API keys"):
        ApiKeys.parse([("", "env")], demo=False)
    demo = ApiKeys.parse([], demo=True)
    assert demo.tenant_for(DEMO_KEY) == "demo" and demo.tenants == {"demo"}


def test_keys_from_file_and_env(tmp_path, monkeypatch):
    path = tmp_path / "keys"
    path.write_text(f"# tenants\nacme:{hash_key('k1')}  # shop one\n\nglobex:{hash_key('k2')}\n")
    monkeypatch.setenv("INTERAREC_API_KEYS_FILE", str(path))
    monkeypatch.setenv("INTERAREC_API_KEYS", f"initech:{hash_key('k3')}")
    monkeypatch.delenv("INTERAREC_DEMO_MODE", raising=False)
    keys = ApiKeys.from_env()
    assert [keys.tenant_for(k) for k in ("k1", "k2", "k3", DEMO_KEY)] == ["acme", "globex", "initech", None]
    monkeypatch.setenv("INTERAREC_DEMO_MODE", "yes")
    with pytest.raises(config.ConfigError, match="INTERAREC_DEMO_MODE"):
        ApiKeys.from_env()


def test_session_tokens_bind_tenant_session_and_expiry():
    tokens = SessionTokens(b"s" * 32, ttl_s=60)
    token, expires = tokens.mint("acme", "sess-1", now_s=1000)
    assert expires == 1060
    assert tokens.verify(token, now_s=1059) == ("acme", "sess-1")
    with pytest.raises(TokenError, match="expired"):
        tokens.verify(token, now_s=1060)
    version, payload, sig = token.split(".")
    forged_payload = SessionTokens(b"x" * 32, 60).mint("globex", "sess-1", 1000)[0].split(".")[1]
    with pytest.raises(TokenError, match="signature"):
        tokens.verify(f"{version}.{forged_payload}.{sig}", now_s=1001)
    with pytest.raises(TokenError, match="signature"):
        SessionTokens(b"o" * 32, 60).verify(token, now_s=1001)  # another secret
    for junk in ("", "v1.x", "v2.a.b", "v1..", token + "x"):
        with pytest.raises(TokenError):
            tokens.verify(junk, now_s=1001)
    with pytest.raises(ValueError):
        SessionTokens(b"short", 60)


def test_rate_limiter_is_per_tenant_with_retry_after():
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.acquire("acme", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("acme", 0.0)
    assert wait == pytest.approx(0.5) and retry_after_header(wait) == "1"
    assert limiter.acquire("globex", 0.0) == 0.0  # another tenant has its own bucket
    assert limiter.acquire("acme", 0.5) == 0.0  # refilled one token after 1/rate seconds
    assert limiter.acquire("acme", 0.5) > 0


def test_stream_slots_cap_each_tenant():
    slots = StreamSlots(per_tenant=2)
    assert slots.try_open("acme") and slots.try_open("acme") and not slots.try_open("acme")
    assert slots.try_open("globex")
    slots.close("acme")
    assert slots.open_count("acme") == 1 and slots.try_open("acme")


def test_storefront_settings_refuse_unsafe_configuration(monkeypatch):
    from services.storefront_api.app import StorefrontSettings

    for name in list(__import__("os").environ):
        if name.startswith("INTERAREC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("INTERAREC_API_KEYS", f"acme:{hash_key('k1')}")
    with pytest.raises(config.ConfigError, match="TOKEN_SECRET is not set"):
        StorefrontSettings.from_env()  # outside demo mode the token secret must be configured
    monkeypatch.setenv("INTERAREC_STOREFRONT_TOKEN_SECRET", "short")
    with pytest.raises(config.ConfigError, match="at least 32"):
        StorefrontSettings.from_env()
    monkeypatch.setenv("INTERAREC_STOREFRONT_TOKEN_SECRET", "s" * 40)
    monkeypatch.setenv("INTERAREC_STOREFRONT_CORS_ORIGINS", "*")
    with pytest.raises(config.ConfigError, match="not '\\*'"):
        StorefrontSettings.from_env()
    monkeypatch.setenv("INTERAREC_STOREFRONT_CORS_ORIGINS", "https://shop.example/, https://m.shop.example")
    settings = StorefrontSettings.from_env()
    assert settings.cors_origins == ["https://shop.example", "https://m.shop.example"]
    assert settings.api_keys.tenant_for("k1") == "acme" and settings.api_keys.tenant_for(DEMO_KEY) is None
