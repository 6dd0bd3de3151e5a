"""Helpers shared by the end-to-end and reliability tests."""

from __future__ import annotations

import time

import httpx

from infra.local.stack import Stack


def latest(stack: Stack, session_id: str) -> dict | None:
    resp = httpx.get(f"{stack.storefront_url}/v1/sessions/{session_id}/recommendations", timeout=5,
                     headers={"X-API-Key": stack.api_key})
    return resp.json() if resp.status_code == 200 else None


def wait_for(predicate, timeout_s: float, interval_s: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    return None
