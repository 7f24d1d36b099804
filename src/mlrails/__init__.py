"""mlrails: the shared package."""

from pathlib import Path

__version__ = "0.1.0"

# The kit's checkout (src/mlrails/ → the repository root): where the Lambda handlers
# (functions/) and the CDK app (infra/) that every project runs and deploys live.
CHECKOUT_DIR = Path(__file__).resolve().parents[2]
