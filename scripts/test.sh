#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what is missing (scripts/setup.sh
# --install-only), starts the local services the suite uses, then runs pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/catalog -x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --install-only
bash scripts/services.sh
export SCRIPTHAMMER_TEST_PG_URL=${SCRIPTHAMMER_TEST_PG_URL:-postgresql+psycopg2://scripthammer_test:scripthammer_test@127.0.0.1:5432/postgres}
export SCRIPTHAMMER_TEST_MARIADB_URL=${SCRIPTHAMMER_TEST_MARIADB_URL:-mysql+pymysql://scripthammer_test:scripthammer_test@127.0.0.1:3306}
exec .venv/bin/python -m pytest "$@"
