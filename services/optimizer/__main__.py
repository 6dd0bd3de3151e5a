"""`python -m services.optimizer`: run the optimizer worker (configuration from INTERAREC_* variables)."""

import sys

from services.common.serve import serve_worker
from services.common.settings import from_env
from services.optimizer.app import build
from services.optimizer.settings import OptimizerSettings

if __name__ == "__main__":
    sys.exit(serve_worker("optimizer", lambda: build(from_env(OptimizerSettings))))
