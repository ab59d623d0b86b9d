#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment at .venv/ and install GazePrior-MM
# with everything its tests need. Idempotent: a second run only checks.
#
# The normal path is plain pip: `pip install torch torchvision` then `pip install -e .[all]`.
# Some machines configure pip to prefer a local CPU-only torch wheel (find-links); pip then
# pairs it with the registry's torchvision, whose compiled ops were built against the
# registry's torch and fail at import ("operator torchvision::nms does not exist"). We
# detect exactly that failure and only then re-install the matching registry pair with
# `pip --isolated` (ignoring the local find-links), so GPU and ordinary machines never
# take the fallback.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
# The torch/torchvision pair this project is verified on; override for another CUDA build,
# e.g. TORCH_SPEC="torch torchvision" for the newest pair.
TORCH_SPEC=${TORCH_SPEC:-"torch==2.13.0 torchvision==0.28.0"}

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup_env] creating $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip)

torch_pair_ok() {
  "$VPY" - <<'PYEOF' >/dev/null 2>&1
import torch, torchvision
from torchvision.ops import nms
nms(torch.zeros(1, 4) + torch.tensor([0., 0., 1., 1.]), torch.ones(1), 0.5)
PYEOF
}

if ! torch_pair_ok; then
  echo "[setup_env] installing torch + torchvision"
  # shellcheck disable=SC2086
  "${PIP[@]}" install -q 'setuptools>=77,<81' $TORCH_SPEC
  if ! torch_pair_ok; then
    versions=$("$VPY" -c "import importlib.metadata as m; print(m.version('torch').split('+')[0], m.version('torchvision').split('+')[0])" 2>/dev/null || echo "")
    read -r tv tvv <<<"$versions"
    echo "[setup_env] torch/torchvision pair is inconsistent (local torch wheel?); re-installing the registry pair torch==${tv:-latest} torchvision==${tvv:-latest} with --isolated"
    "${PIP[@]}" --isolated install -q --disable-pip-version-check --force-reinstall --no-deps \
      "torch${tv:+==$tv}" "torchvision${tvv:+==$tvv}"
    "${PIP[@]}" --isolated install -q --disable-pip-version-check "torch${tv:+==$tv}" "torchvision${tvv:+==$tvv}"
    torch_pair_ok || { echo "[setup_env] ERROR: torchvision still fails to import with torch" >&2; exit 1; }
  fi
fi

if ! "$VPY" -c "import gazeprior_mm, numba, pytest, ot, pytorch_grad_cam, dtw" >/dev/null 2>&1; then
  echo "[setup_env] installing gazeprior_mm (editable) with optional and test dependencies"
  "${PIP[@]}" install -q -e '.[all]'
fi
torch_pair_ok || { echo "[setup_env] ERROR: installing the project broke torch/torchvision" >&2; exit 1; }
# compile the data pipeline's gaze kernel once into numba's cache, so that the data loader
# workers, test processes and DDP ranks of a fresh checkout load it instead of all
# compiling it at the same time
"$VPY" -c "from gazeprior_mm.gaze.view_targets_kernel import warm_up; warm_up()"
"$VPY" -c "import gazeprior_mm, torch, torchvision, mmpretrain; print('[setup_env] ok: gazeprior_mm', gazeprior_mm.__version__, '| torch', torch.__version__, '| torchvision', torchvision.__version__, '| mmpretrain', mmpretrain.__version__)"
