"""Capture: the Playwright agent that streams a page's viewport screenshots to the gateway (frames.py).
Scripted shoppers that drive it live in services/shoppers."""
