"""`python -m services.decomposer`: run the decomposer worker."""

from services.common.worker import run_worker
from services.decomposer import agents  # noqa: F401  (registers the agent)
from services.decomposer.app import app

if __name__ == "__main__":
    run_worker(app, "decomposer")
