"""`python -m services.decomposer`: run the decomposer worker (configuration from INTERAREC_* variables)."""

import sys

from services.common.serve import serve_worker
from services.common.settings import from_env
from services.decomposer.app import build
from services.decomposer.settings import DecomposerSettings

if __name__ == "__main__":
    sys.exit(serve_worker("decomposer", lambda: build(from_env(DecomposerSettings))))
