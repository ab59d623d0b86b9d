#!/usr/bin/env bash
# One command for the main job on the embedded default data: set up .venv/, generate the
# synthetic chest-X-ray + gaze benchmark (if absent), pre-train GazePrior for a short CPU
# budget, draw gaze-vs-attention figures and the loss curve, export the backbone as a
# plain state dict, and print where everything went and what the numbers mean.
# Usage: bash tools/run_demo.sh [WORK_DIR] [extra tools/train.py args, e.g. --tensorboard]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
WORK_DIR=${1:-work_dirs/demo_gazeprior}
shift || true
CONFIG=configs/gazeprior/gazeprior_vit-tiny-p8_synthetic.py
PY=.venv/bin/python
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

cat <<'NOTE'
[demo] Expected, harmless warnings on the way (README.md, "Expected warnings"):
[demo]   "image 'syn-...': dropped N of M fixations (N outside)" / "GazeHeatmap: fixations
[demo]     were dropped": the synthetic readers look slightly off-image by design (5-10 %
[demo]     of fixations, as real eye-trackers record); those rows are dropped and counted.
[demo]   "unexpected key in source state_dict: neck.w_g, neck.b_g, ..., head..." and
[demo]     "missing keys in source state_dict: ln2.weight, ln2.bias": the evaluation loads
[demo]     only the backbone of the GazePrior checkpoint; GGAM (neck) and the GWCL projector
[demo]     (head) are pre-training parts, skipped on purpose, and ln2 is the final norm the
[demo]     ViT probe adds for its pooled output (pre-training used the patch tokens).
NOTE

# The embedded default data: the synthetic benchmark the config declares
# (synthetic_benchmark), made once by its tool into data/synthetic_cxr/.
if [ ! -f data/synthetic_cxr/annotations/train.json ]; then
    $PY tools/dataset_converters/make_synthetic_cxr.py --config "$CONFIG"
fi
$PY tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
CKPT=$(cat "$WORK_DIR/last_checkpoint")
$PY tools/analysis/gaze_alignment.py "$CONFIG" "$CKPT" \
    --out-dir "$WORK_DIR/figures" --num-images 8
$PY tools/analysis/plot_loss_curves.py "$WORK_DIR" \
    --keys loss loss_gwcl loss_gaze_pred --out "$WORK_DIR/loss_curves.png"
$PY tools/analysis/export_backbone.py "$CKPT" --out "$WORK_DIR/backbone.pth"
echo "[demo] checkpoint : $CKPT"
echo "[demo] backbone   : $WORK_DIR/backbone.pth (+ backbone.json; plain state dict, loads without gazeprior_mm)"
echo "[demo] logs       : $(ls -d "$WORK_DIR"/[0-9]*/ | tail -n 1)"
echo "[demo] loss curves: $WORK_DIR/loss_curves.png"
echo "[demo] figures    : $WORK_DIR/figures (one PNG per test image: image | gaze | saliency | overlay)"
echo "[demo] alignment  : $WORK_DIR/figures/alignment.json, over the test split:"
echo "[demo]   spearman: rank correlation of gaze weights and model saliency per patch; -1..1, higher = follows the readers (0 = unrelated)"
echo "[demo]   nss     : saliency z-scored per image, averaged with the gaze mass as weights; 0 = chance, higher = high where readers looked"
echo "[demo]   emd     : Earth Mover's Distance gaze heatmap vs saliency (image-side units); 0..1.41, lower = closer"
echo "[demo]   pointing: share of images with lesions whose saliency peak is inside a lesion box; 0..1, higher = better"
echo "[demo]   (num_*: images in each mean. Two CPU epochs show that the pipeline runs, not what the method reaches: docs/evaluation.md)"
