#!/usr/bin/env bash
# One prepared run of every GPU measurement the library needs (issue 4), in stages ordered by
# priority (the prefill and attention stages, already measured once, come last), each under a time
# limit, all inside one overall deadline. Results land in $OUT_DIR:
#   <gpu>.json                  eager vs graph, batches x contexts of the issue
#   <gpu>-compiled.json         torch.compile(mode="reduce-overhead") at the issue's target points
#   <gpu>-roofline-sweep.json   graph mode over batches 1..256 x contexts 512..32768
#   <gpu>-prefill.json          no-cache forward passes (prefill / no-cache step) by prompt length
#   <gpu>-attention.json        one-token attention over a long cache, several kernels
#   <gpu>-matmul-shapes.json    each weight matrix of a step alone, batches 1..512
#   <gpu>-profile.json          kernels per decode step, busy and idle GPU time, per mode
#   <gpu>-compiled-variants.json  the compiled step under several Inductor settings
#   tests.log                   the CUDA tests
# Meant for a machine with an NVIDIA GPU and PyTorch already installed; uses lib/ uninstalled.
#
#   bash scripts/measure_gpu.sh                 # full run (8 to 9 minutes on an H200; DEADLINE_S caps it)
#   OUT_DIR=/tmp/x MODEL=tiny DEVICE=cpu BATCHES=1,2 CONTEXTS=16 ROOF_BATCHES=1 ROOF_CONTEXTS=16 \
#     MODES=eager COMPILED_POINTS= PREFILL_LENGTHS=16 MATMUL_BATCHES=1,4 PROFILE_POINTS=1:16 \
#     PROFILE_MODES=eager VARIANT_POINTS= bash scripts/measure_gpu.sh                # CPU smoke test
#   STAGES=compiled,variants,profile,matmul bash scripts/measure_gpu.sh   # only these stages
# Stages, in the order they run: sweep, roofline, tests, compiled, matmul, variants, profile,
# prefill, attention (STAGES picks some of them; the default is all).
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
COMPILED_POINTS=${COMPILED_POINTS-1:512 64:2048 1:32768}   # batch:context
ROOF_BATCHES=${ROOF_BATCHES:-1,4,16,64,256}
ROOF_CONTEXTS=${ROOF_CONTEXTS:-512,2048,8192,32768}
PREFILL_LENGTHS=${PREFILL_LENGTHS:-128,512,2048,8192}
MATMUL_BATCHES=${MATMUL_BATCHES:-1,4,16,64,128,256,512}
PROFILE_POINTS=${PROFILE_POINTS:-1:512,64:2048}
PROFILE_MODES=${PROFILE_MODES:-graph,compiled}   # eager runs the same kernels as graph
VARIANT_POINTS=${VARIANT_POINTS-1:512}
VARIANTS=${VARIANTS:-default,pdl,pdl_coordinate_descent,max_autotune_gemm,pdl_max_autotune_gemm,manual_graph}
DEADLINE_S=${DEADLINE_S:-540}   # no stage starts after this, and none runs past it
ALL_STAGES=sweep,roofline,tests,compiled,matmul,variants,profile,prefill,attention
STAGES=${STAGES:-$ALL_STAGES}
for st in ${STAGES//,/ }; do
  case ",$ALL_STAGES," in *",$st,"*) ;; *)
    echo "STAGES: unknown stage '$st'; known: $ALL_STAGES" >&2; exit 2;; esac
done
want() { case ",$STAGES," in *",$1,"*) return 0;; *) return 1;; esac; }
mkdir -p "$OUT_DIR"

left() { echo $((DEADLINE_S - SECONDS)); }
# stage <name> <limit_s> <title> <command...>: if STAGES names it, run the command under
# min(limit, time left). Returns the command's exit status, or 1 when the stage did not run.
stage() {
  local name=$1 limit=$2 title=$3; shift 3
  want "$name" || return 1
  local t; t=$(left); [ "$t" -lt "$limit" ] && limit=$t
  if [ "$limit" -lt 20 ]; then echo "== SKIPPED (deadline): $title"; return 1; fi
  echo "== [$SECONDS s] $title (limit ${limit} s)"
  timeout --kill-after=10 "$limit" "$@"; local rc=$?
  echo "== [$SECONDS s] done: $title (exit $rc)"
  return $rc
}

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,power.limit,driver_version --format=csv
$PY -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda)"
name=$($PY -c "import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')" \
       | tr ' ' '-' | tr -cd 'A-Za-z0-9._-')
echo "device: $name"
common=(--model "$MODEL" --device "$DEVICE" --calibrate full --no-progress)

stage sweep 240 "decode sweep: $MODEL, batches $BATCHES, contexts $CONTEXTS, modes $MODES" \
  $PY -m tokenmath bench "${common[@]}" --batch "$BATCHES" --context "$CONTEXTS" --mode "$MODES" \
  --json "$OUT_DIR/$name.json"

mode=graph; [ "$DEVICE" = cpu ] && mode=eager
stage roofline 200 "calibrated-roofline sweep: batches $ROOF_BATCHES, contexts $ROOF_CONTEXTS ($mode)" \
  $PY -m tokenmath bench "${common[@]}" --batch "$ROOF_BATCHES" --context "$ROOF_CONTEXTS" \
  --mode "$mode" --json "$OUT_DIR/$name-roofline-sweep.json"

stage tests 120 "CUDA tests" bash -c "$PY -m pytest -q -x -p no:cacheprovider tests/test_timing.py \
  tests/test_calibrate.py tests/test_decoder.py tests/test_kvcache.py tests/test_bench.py \
  > '$OUT_DIR/tests.log' 2>&1; rc=\$?; tail -n 15 '$OUT_DIR/tests.log'; exit \$rc"

parts=()
for point in $COMPILED_POINTS; do
  b=${point%%:*} s=${point##*:} part="$OUT_DIR/compiled-$b-$s.part.json"
  stage compiled 150 "compiled: batch $b, context $s" \
    $PY -m tokenmath bench "${common[@]}" --batch "$b" --context "$s" --mode compiled --json "$part"
  [ -f "$part" ] && parts+=("$part")  # a report, measured or with its skipped rows
done
if [ ${#parts[@]} -gt 0 ]; then  # one file: the first run's header, every run's rows
  $PY - "$OUT_DIR/$name-compiled.json" "${parts[@]}" <<'EOF'
import json, sys
from tokenmath.bench import fit_overhead
reports = [json.load(open(p)) for p in sys.argv[2:]]
rows = [r for rep in reports for r in rep["results"]]
for r in rows:  # each part fitted t0 on its own single point: fit again over all of them
    for key in ("roofline_calibrated_t0_s", "measured_over_predicted_calibrated_t0", "overhead_fit_point"):
        r.pop(key, None)
merged = dict(reports[0], results=rows, calibrations=[rep["calibration"] for rep in reports])
merged.pop("overhead_fit", None)
json.dump(fit_overhead(merged), open(sys.argv[1], "w"), indent=2)
EOF
  rm -f "$OUT_DIR"/compiled-*.part.json
fi

stage matmul 60 "matmul at the step's shapes: batches $MATMUL_BATCHES" \
  $PY scripts/matmul_shapes.py --model "$MODEL" --device "$DEVICE" --batches "$MATMUL_BATCHES" \
  --out "$OUT_DIR/$name-matmul-shapes.json"

[ -n "$VARIANT_POINTS" ] && stage variants 260 "compiled variants at $VARIANT_POINTS: $VARIANTS" \
  $PY scripts/compiled_variants.py --model "$MODEL" --device "$DEVICE" --points "$VARIANT_POINTS" \
  --variants "$VARIANTS" --out "$OUT_DIR/$name-compiled-variants.json"

stage profile 150 "kernel profile: points $PROFILE_POINTS, modes $PROFILE_MODES" \
  $PY scripts/profile_step.py --model "$MODEL" --device "$DEVICE" --points "$PROFILE_POINTS" \
  --modes "$PROFILE_MODES" --out "$OUT_DIR/$name-profile.json"

stage prefill 90 "no-cache forward passes: lengths $PREFILL_LENGTHS" \
  $PY scripts/measure_prefill.py --model "$MODEL" --device "$DEVICE" --lengths "$PREFILL_LENGTHS" \
  --out "$OUT_DIR/$name-prefill.json"
[ "$DEVICE" = cuda ] && stage attention 150 "decode attention variants" \
  $PY scripts/attention_variants.py --out "$OUT_DIR/$name-attention.json"
ls -l "$OUT_DIR"
$PY scripts/targets.py "$OUT_DIR" --gpu "$name" || true   # issue 4's targets, from the files above
echo "total ${SECONDS} s"
