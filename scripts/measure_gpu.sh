#!/usr/bin/env bash
# One prepared run of every GPU check the library needs (issue 4): the CUDA-only tests, then the
# decode benchmark sweeps whose JSON goes to data/measurements/<gpu>.json. Meant for a machine with
# an NVIDIA GPU and PyTorch already installed; uses the repository's lib/ without installing it.
#
#   bash scripts/measure_gpu.sh                 # full run (about 10 minutes on an H100)
#   OUT_DIR=/tmp/x MODEL=tiny DEVICE=cpu BATCHES=1,2 CONTEXTS=16 ROOF_BATCHES=1 \
#     ROOF_CONTEXTS=16 MODES=eager bash scripts/measure_gpu.sh    # smoke test on a CPU
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/lib${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
OUT_DIR=${OUT_DIR:-data/measurements}
MODEL=${MODEL:-llama-3-8b}
DEVICE=${DEVICE:-cuda}
MODES=${MODES:-eager,graph}
BATCHES=${BATCHES:-1,16,64}
CONTEXTS=${CONTEXTS:-512,2048,32768}
ROOF_BATCHES=${ROOF_BATCHES:-1,4,16,64,256}
ROOF_CONTEXTS=${ROOF_CONTEXTS:-512,2048,8192,32768}
mkdir -p "$OUT_DIR"

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,power.limit --format=csv
name=$($PY -c "import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')" \
       | tr ' ' '-' | tr -cd 'A-Za-z0-9._-')
echo "device: $name"

echo "== CUDA tests (skipped without a GPU)"
$PY -m pytest -q -p no:cacheprovider tests/test_timing.py tests/test_calibrate.py tests/test_decoder.py \
    tests/test_kvcache.py tests/test_bench.py 2>&1 | tail -n 15

echo "== decode sweep of issue 4: $MODEL, batches $BATCHES, contexts $CONTEXTS, modes $MODES"
$PY -m tokenmath bench --model "$MODEL" --device "$DEVICE" --batch "$BATCHES" --context "$CONTEXTS" \
    --mode "$MODES" --calibrate full --no-progress --json "$OUT_DIR/$name.json"

echo "== calibrated-roofline sweep: batches $ROOF_BATCHES, contexts $ROOF_CONTEXTS (graph mode)"
mode=graph; [ "$DEVICE" = cpu ] && mode=eager
$PY -m tokenmath bench --model "$MODEL" --device "$DEVICE" --batch "$ROOF_BATCHES" \
    --context "$ROOF_CONTEXTS" --mode "$mode" --calibrate full --no-progress \
    --json "$OUT_DIR/$name-roofline-sweep.json"
ls -l "$OUT_DIR"
