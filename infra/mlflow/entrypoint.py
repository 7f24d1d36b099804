"""Start ``mlflow server`` with a PostgreSQL backend built from the injected secret.

ECS sets DB_HOST, DB_PORT, DB_NAME, DB_USERNAME and DB_PASSWORD from Secrets Manager; the
task's command adds the other ``mlflow server`` options. The password never appears in the
task definition or on a command line that ``ps`` would show to another user.
"""

import os
import sys
from urllib.parse import quote

REQUIRED = ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USERNAME", "DB_PASSWORD")


def backend_store_uri(env) -> str:
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        raise SystemExit(f"environment variables must be set: {', '.join(missing)}")
    user, password = quote(env["DB_USERNAME"], safe=""), quote(env["DB_PASSWORD"], safe="")
    return f"postgresql+psycopg2://{user}:{password}@{env['DB_HOST']}:{env['DB_PORT']}/{env['DB_NAME']}"


if __name__ == "__main__":
    # MLflow reads the backend URI from its own variable (MLFLOW_BACKEND_STORE_URI), so it stays
    # out of argv.
    os.environ["MLFLOW_BACKEND_STORE_URI"] = backend_store_uri(os.environ)
    os.execvp("mlflow", ["mlflow", "server", "--host", "0.0.0.0", "--workers", "2", *sys.argv[1:]])
