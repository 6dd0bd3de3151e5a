"""Worker settings are declared once: the README's table is generated from the dataclasses and must match
them, and no worker module reads an INTERAREC_* variable past its settings dataclass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra import settings_doc
from services.common.settings import BEGIN, END, declared, table

ROOT = Path(__file__).resolve().parents[2]
WORKER_CODE = [*(ROOT / "services" / name for name in ("summarizer", "decomposer", "optimizer")),
               ROOT / "services" / "common" / "worker.py", ROOT / "services" / "common" / "lag.py"]



def assert_in_table(*names: str) -> None:
    block = table(settings_doc.SERVICES)
    for name in names:
        assert f"| `{name}` |" in block, name


def assert_refused(monkeypatch, read, cases) -> None:
    """Each (variable, bad value) alone makes `read()` raise a ConfigError naming that variable."""
    from services.common import config

    for name, value in cases:
        with monkeypatch.context() as m:
            m.setenv(name, value)
            with pytest.raises(config.ConfigError, match=name):
                read()

def test_readme_table_is_the_one_generated_from_the_dataclasses():
    readme = (ROOT / "README.md").read_text()
    current = readme[readme.index(BEGIN):readme.index(END) + len(END)]
    assert current == table(settings_doc.SERVICES), "run `python -m infra.settings_doc --write`"


def test_each_variable_is_declared_once_and_read_nowhere_else():
    names = [env.name for cls in settings_doc.SERVICES for env, _ in declared(cls)]
    per_worker = [[env.name for env, _ in declared(cls)] for cls in settings_doc.SERVICES]
    assert all(len(set(n)) == len(n) for n in per_worker) and len(set(names)) > 20
    direct = re.compile(r"env_(?:str|int|float|choice)\(\s*f?\"INTERAREC_")
    files = [f for path in WORKER_CODE for f in ([path] if path.is_file() else sorted(path.glob("*.py")))]
    readers = [f"{f.relative_to(ROOT)}:{i}" for f in files
               for i, line in enumerate(f.read_text().splitlines(), 1) if direct.search(line)]
    assert readers == [], readers


def test_storefront_settings_are_in_the_table_and_read_through_their_declarations(monkeypatch):
    from services.storefront_api.app import StorefrontSettings

    assert_in_table("INTERAREC_STOREFRONT_PORT", "INTERAREC_STOREFRONT_CORS_ORIGINS", "INTERAREC_API_KEYS",
                 "INTERAREC_STOREFRONT_TOKEN_SECRET", "INTERAREC_STOREFRONT_QUERY_BACKEND")
    monkeypatch.setenv("INTERAREC_DEMO_MODE", "1")  # the demo key, so no key file is needed
    monkeypatch.setenv("INTERAREC_STOREFRONT_PORT", "8611")
    monkeypatch.setenv("INTERAREC_STOREFRONT_CORS_ORIGINS", "http://a.example/, http://b.example")
    monkeypatch.setenv("INTERAREC_STOREFRONT_TOKEN_SECRET", "x" * 32)
    s = StorefrontSettings.from_env()
    assert s.port == 8611 and s.cors_origins == ["http://a.example", "http://b.example"]
    assert s.token_secret == b"x" * 32 and s.query_llm is None and s.rules == {}
    assert_refused(monkeypatch, StorefrontSettings.from_env,
                   (("INTERAREC_STOREFRONT_PORT", "0"), ("INTERAREC_STOREFRONT_CORS_ORIGINS", "*"),
                    ("INTERAREC_STOREFRONT_TOKEN_SECRET", "short")))


def test_demo_shop_settings_are_in_the_table_and_validated(monkeypatch):
    from services.common.settings import from_env
    from services.demo_shop.settings import DemoShopSettings

    assert_in_table("INTERAREC_SHOP_PORT", "INTERAREC_SHOP_LAYOUT", "INTERAREC_SHOP_SESSION_SECRET")
    monkeypatch.setenv("INTERAREC_DEMO_MODE", "1")
    monkeypatch.setenv("INTERAREC_SHOP_LAYOUT", "theme-3")
    s = from_env(DemoShopSettings)
    assert s.layout == "theme-3" and s.api_key == "demo-key" and s.session_secret is None
    assert_refused(monkeypatch, lambda: from_env(DemoShopSettings),
                   (("INTERAREC_SHOP_LAYOUT", "neon"), ("INTERAREC_SHOP_SESSION_SECRET", "short")))


# Direct INTERAREC_* reads left outside a settings dataclass (docs/the README's hand-written table lists them).
# The list may only shrink: a new direct read fails here; declare the variable in its service's settings.
DIRECT_READS_LEFT = {
    "services/common/kafka_security.py",  # the SASL password's computed() factory (both variables declared)
    "services/common/session_tokens.py",  # the gateway's token check (its settings are the gateway's)
    "services/common/tenants.py",  # demo mode, API keys, tenant origins: the gateway's and storefront's computed()
    "services/storefront_api/app.py",  # the query backend picks whether LlmSettings is read (a computed field)
}
RUNTIME = [p for p in sorted((ROOT / "services").rglob("*.py"))
           if p.parent.name != "eval" and p.name not in ("settings.py", "config.py")]


def test_no_new_direct_reads_of_interarec_variables():
    read = re.compile(r"(?:env_(?:str|int|float|choice)|environ\.get|getenv)\(\s*f?\"INTERAREC_")
    readers = {str(f.relative_to(ROOT)) for f in RUNTIME if read.search(f.read_text())}
    assert readers <= DIRECT_READS_LEFT, sorted(readers - DIRECT_READS_LEFT)


def test_model_client_settings_are_declared_in_the_table_and_validated(monkeypatch):
    from services.common.llm import LlmSettings

    assert_in_table("INTERAREC_LLM_BASE_URL", "INTERAREC_LLM_MODEL", "INTERAREC_LLM_MAX_PIXELS")
    monkeypatch.setenv("INTERAREC_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("INTERAREC_LLM_MODEL", "tiny-vlm")
    monkeypatch.setenv("INTERAREC_LLM_RETRIES", "0")
    s = LlmSettings.from_env()
    assert (s.base_url, s.model, s.retries, s.max_tokens, s.backoff_s) == ("http://127.0.0.1:9/v1", "tiny-vlm", 0,
                                                                            512, 0.25)
    assert_refused(monkeypatch, LlmSettings.from_env,
                   (("INTERAREC_LLM_BASE_URL", "gpu-host:8000"), ("INTERAREC_LLM_MODEL", ""),
                    ("INTERAREC_LLM_RETRIES", "11"), ("INTERAREC_LLM_TIMEOUT_S", "0")))


# Variables named in runtime code but declared in no settings dataclass (the README's hand-written table); may
# only shrink.
UNDECLARED_LEFT: set[str] = set()


def test_every_variable_the_services_name_is_declared_in_a_settings_dataclass():
    named = {m for f in RUNTIME for m in re.findall(r"\"(INTERAREC_[A-Z0-9_]+)\"", f.read_text())}
    declared_names = {env.name for cls in settings_doc.SERVICES for env, _ in declared(cls)}
    assert named - declared_names <= UNDECLARED_LEFT, sorted(named - declared_names - UNDECLARED_LEFT)


def test_scripted_shopper_options_default_to_their_declared_settings(monkeypatch):
    from services.shoppers.__main__ import _parser
    from services.shoppers.shopper import chromium_path

    assert_in_table("INTERAREC_SHOP_URL", "INTERAREC_GATEWAY_URL", "INTERAREC_API_KEY", "INTERAREC_CHROMIUM_PATH")
    monkeypatch.setenv("INTERAREC_SHOP_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("INTERAREC_API_KEY", "k")
    monkeypatch.setenv("INTERAREC_CHROMIUM_PATH", " ")  # blank: the default browser
    args = _parser().parse_args([])
    assert (args.shop_url, args.gateway_url, args.api_key) == ("http://127.0.0.1:9/", "http://127.0.0.1:8500", "k")
    assert chromium_path() == "/usr/bin/chromium"


def test_every_chromium_launch_drives_the_configured_browser_with_our_flags(monkeypatch):
    from services.shoppers.shopper import CHROMIUM_ARGS, chromium_launch_options

    monkeypatch.setenv("INTERAREC_CHROMIUM_PATH", "/opt/chromium/chrome")
    assert chromium_launch_options() == {"executable_path": "/opt/chromium/chrome", "args": CHROMIUM_ARGS,
                                         "headless": True}
    assert chromium_launch_options(headless=False)["headless"] is False


def test_storefront_and_gateway_accept_the_same_token_secrets(monkeypatch):
    """The storefront mints with the secret its settings read, the gateway checks with token_secret_from_env:
    one rule (session_tokens.parse_token_secret), so a secret one accepts the other cannot refuse."""
    from services.common import config
    from services.common.session_tokens import token_secret_from_env
    from services.storefront_api.app import StorefrontSettings

    monkeypatch.delenv("INTERAREC_DEMO_MODE", raising=False)
    monkeypatch.setenv("INTERAREC_API_KEYS", "acme:sha256$" + "0" * 64)
    for secret in ("s" * 31, "s" * 32, "ü" * 32):
        monkeypatch.setenv("INTERAREC_STOREFRONT_TOKEN_SECRET", secret)
        try:
            minted = StorefrontSettings.from_env().token_secret
        except config.ConfigError:
            minted = None
        try:
            checked = token_secret_from_env()
        except config.ConfigError:
            checked = None
        assert minted == checked, secret
