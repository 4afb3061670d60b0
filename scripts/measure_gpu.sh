#!/usr/bin/env bash
# The GPU measurements the book reads, written to $OUT_DIR (default lib/tokenmath/data/measurements) under the
# GPU's name:
#   <gpu>.json                 decode step, batches 1,16,64 x contexts 512,2048,32768, eager and graph
#   <gpu>-roofline-sweep.json  decode step in graph mode, batches 1..1024 x contexts 512..32768
#                              (points whose KV cache does not fit are skipped)
#   <gpu>-compiled.json        decode step with torch.compile at three points
#   <gpu>-prefill.json         forward passes without a cache over prompts of 128..8192 tokens
#   <gpu>-attention.json       one-token attention over a long cache with each SDPA kernel
# Needs a GPU and PyTorch; uses lib/ uninstalled. About 9 minutes on an H200.
#
#   bash scripts/measure_gpu.sh
#   STAGES=compiled,prefill bash scripts/measure_gpu.sh         # only these stages
#   OUT_DIR=/tmp/m DEVICE=cpu MODEL=tiny BATCHES=1 CONTEXTS=16 LENGTHS=16 CALIBRATE=none \
#     STAGES=sweep,prefill bash scripts/measure_gpu.sh          # a CPU smoke test
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/lib${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
OUT_DIR=${OUT_DIR:-lib/tokenmath/data/measurements}
MODEL=${MODEL:-llama-3-8b}
DEVICE=${DEVICE:-cuda}
BATCHES=${BATCHES:-1,16,64}
CONTEXTS=${CONTEXTS:-512,2048,32768}
ROOF_BATCHES=${ROOF_BATCHES:-1,4,16,64,256,512,1024}
ROOF_CONTEXTS=${ROOF_CONTEXTS:-512,2048,8192,32768}
COMPILED_POINTS=${COMPILED_POINTS:-1:512,64:2048,1:32768}   # batch:context
LENGTHS=${LENGTHS:-128,512,2048,8192}
LIMIT_S=${LIMIT_S:-300}   # each stage
CALIBRATE=${CALIBRATE:-full}   # none for a quick smoke test
ALL=sweep,roofline,compiled,prefill,attention
STAGES=${STAGES:-$ALL}
for st in ${STAGES//,/ }; do
  case ",$ALL," in *",$st,"*) ;; *) echo "STAGES: unknown stage '$st'; known: $ALL" >&2; exit 2;; esac
done
mkdir -p "$OUT_DIR"

fast=graph modes=eager,graph
[ "$DEVICE" = cpu ] && fast=eager modes=eager   # CUDA graphs need CUDA
name=$($PY -c "import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() \
  and '$DEVICE' != 'cpu' else 'cpu')" | tr ' ' '-' | tr -cd 'A-Za-z0-9._-')
bench=($PY -m tokenmath bench --model "$MODEL" --device "$DEVICE" --calibrate "$CALIBRATE" --no-progress)

# stage NAME COMMAND...: run COMMAND under $LIMIT_S if STAGES names it; the others still run
# after a failure, and the script exits 1
rc=0
stage() {
  case ",$STAGES," in *",$1,"*) ;; *) return 0;; esac
  echo "== [$SECONDS s] $1"; shift
  timeout --kill-after=10 "$LIMIT_S" "$@" || { echo "== failed (exit $?)"; rc=1; }
}
stage sweep "${bench[@]}" --batch "$BATCHES" --context "$CONTEXTS" --mode "$modes" \
  --json "$OUT_DIR/$name.json"
stage roofline "${bench[@]}" --batch "$ROOF_BATCHES" --context "$ROOF_CONTEXTS" --mode "$fast" \
  --json "$OUT_DIR/$name-roofline-sweep.json"
stage compiled "${bench[@]}" --points "$COMPILED_POINTS" --mode compiled \
  --json "$OUT_DIR/$name-compiled.json"
stage prefill $PY scripts/measure_prefill.py --model "$MODEL" --device "$DEVICE" \
  --lengths "$LENGTHS" --out "$OUT_DIR/$name-prefill.json"
stage attention $PY scripts/attention_variants.py --device "$DEVICE" \
  $([ "$DEVICE" = cpu ] && echo --small) --out "$OUT_DIR/$name-attention.json"
ls -l "$OUT_DIR"
echo "total ${SECONDS} s"
exit $rc
