#!/usr/bin/env bash
# Set up .venv/ (if needed) and run the whole test suite. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
set +e
.venv/bin/python -m pytest tests -n 2 --dist loadfile -q -ra "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "[run_tests] ERROR: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
