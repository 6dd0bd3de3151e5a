"""`python -m services.optimizer`: run the optimizer worker."""

from services.common.worker import run_worker
from services.optimizer import agents  # noqa: F401  (registers the agent)
from services.optimizer.app import app

if __name__ == "__main__":
    run_worker(app, "optimizer")
