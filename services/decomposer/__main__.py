"""`python -m services.decomposer`: run the decomposer worker (configuration from INTERAREC_* variables)."""

import sys

from services.common.serve import serve_worker

if __name__ == "__main__":
    sys.exit(serve_worker("decomposer", "services.decomposer.agents"))
