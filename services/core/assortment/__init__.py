"""Optimization request -> MNL assortment -> Recommendation (recommendation.py is the only builder)."""
