#!/usr/bin/env bash
# Distributed training on one or more nodes with torchrun (launcher=pytorch).
#   tools/dist_train.sh CONFIG GPUS [train.py args...]
#   e.g. tools/dist_train.sh configs/gazeprior_vitb_mimic.py 8
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
# NCCL is used on GPUs; without CUDA the same command runs on gloo (CPU processes).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 CONFIG GPUS [train.py args...]" >&2
  exit 2
fi
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python}
if [ -x "$ROOT/.venv/bin/python" ] && [ -z "${VIRTUAL_ENV:-}" ] && [ "$PYTHON" = python ]; then
  PYTHON="$ROOT/.venv/bin/python"
fi
# one intra-op thread per process unless told otherwise (avoids oversubscription)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$ROOT/tools/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
