"""`python -m services.summarizer`: run the summarizer worker (configuration from INTERAREC_* variables)."""

import sys

from services.common.serve import serve_worker
from services.common.settings import from_env
from services.summarizer.app import build
from services.summarizer.settings import SummarizerSettings

if __name__ == "__main__":
    sys.exit(serve_worker("summarizer", lambda: build(from_env(SummarizerSettings))))
