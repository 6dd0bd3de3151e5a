"""`python -m services.summarizer`: run the summarizer worker (configuration from INTERAREC_* variables)."""

import sys

from services.common.serve import serve_worker

if __name__ == "__main__":
    sys.exit(serve_worker("summarizer", "services.summarizer.agents"))
