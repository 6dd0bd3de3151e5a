"""`python -m services.summarizer`: run the summarizer worker."""

from services.common.worker import run_worker
from services.summarizer import agents  # noqa: F401  (registers the agent and timer)
from services.summarizer.app import app

if __name__ == "__main__":
    run_worker(app, "summarizer")
