"""Frames -> grounded observations -> one behaviour summary (embedded OCR and vllm backends share the builder)."""
