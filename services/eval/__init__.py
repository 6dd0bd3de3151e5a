"""The evaluation harness: persona sessions replayed through the pipeline and scored (not runtime code)."""
