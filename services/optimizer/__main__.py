"""`python -m services.optimizer`: run the optimizer worker (configuration from INTERAREC_* variables)."""

import sys

from services.common.serve import serve_worker

if __name__ == "__main__":
    sys.exit(serve_worker("optimizer", "services.optimizer.agents"))
