#!/usr/bin/env bash
# One command for the main job on the embedded default data: set up .venv/, generate the
# synthetic chest-X-ray + gaze benchmark (if absent), pre-train GazePrior for a short CPU
# budget, draw gaze-vs-attention figures, and print where everything went.
# Usage: bash tools/run_demo.sh [WORK_DIR] [extra tools/train.py args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
WORK_DIR=${1:-work_dirs/demo_gazeprior}
shift || true
CONFIG=configs/gazeprior/gazeprior_vit-tiny-p8_synthetic.py
PY=.venv/bin/python
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

# The dataset generates data/synthetic_cxr/ on first use (embedded default).
$PY tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
CKPT=$(cat "$WORK_DIR/last_checkpoint")
$PY tools/analysis/gaze_alignment.py "$CONFIG" "$CKPT" \
    --out-dir "$WORK_DIR/figures" --num-images 8
echo "[demo] checkpoint : $CKPT"
echo "[demo] logs       : $(ls -d "$WORK_DIR"/[0-9]*/ | tail -n 1)"
echo "[demo] figures    : $WORK_DIR/figures"
