"""Capture: a Playwright shopper streaming viewport screenshots to the gateway."""

from services.capture.scenarios import KINDS, Preference, Scenario, build_scenario
from services.capture.shopper import ShopperResult, run_shopper

__all__ = ["KINDS", "Preference", "Scenario", "ShopperResult", "build_scenario", "run_shopper"]
