#!/usr/bin/env bash
# Every foodcam command that ../shared/gpu/run.sh does not run, on the current device with tiny budgets: cifar32 trained from
# CIFAR-10 data, the demo with --cifar, recipes, budget (with the frontier), review --strong, report, export --pkl, and
# --device cpu / cuda:N / a GPU-less process on a GPU machine. Each step prints `rc=` and its seconds; a failing step does not stop
# the others. Works on a CPU too (then every step runs on the CPU).
#   bash bench/gpu_commands.sh DATA CIFAR_DATA OUT_DIR      (W=weights file, default random; PY=python, default python3)
set -u
D=$1; C=$2; R=$3; W=${W:-random}; PY=${PY:-python3}; mkdir -p "$R"
fc=($PY -c 'import sys; from foodcam.cli import main; sys.exit(main())')  # the console script's `main`, as ../shared/gpu/run.sh runs it
step() { echo; echo "=== $1"; shift; local t=$(date +%s.%N); timeout 300 "$@"; local rc=$?; echo "--- rc=$rc $($PY -c "print(round($(date +%s.%N)-$t,1))") s"; }
step "demo, all tracks, CIFAR-10 data (1 epoch each)" "${fc[@]}" demo "$D" --run "$R/demo" --weights "$W" --cifar "$C" --epochs 1 --quick
step "recipes lab,effnet,fastai" "${fc[@]}" recipes "$D" --recipes lab,effnet,fastai --quick --weights "$W" --run "$R/recipes"
step "budget (wall clock) with the frontier" "${fc[@]}" budget "$D" --weights "$W" --budget 12 --eval_at 6 --frontier --run "$R/budget"
step "review --strong" "${fc[@]}" review "$D" --strong --weights "$W" --run "$R/review"
step "report" "${fc[@]}" report --run "$R/demo" --run "$R/recipes"
step "export --onnx --pkl" "${fc[@]}" export "$R/export/m.safetensors" --run "$R/demo" --onnx --pkl
step "predict --device cpu (exported .pkl)" "${fc[@]}" predict "$R/export/m.pkl" "$D" --out "$R/pred_cpu.csv" --device cpu
step "explain --device cpu" "${fc[@]}" explain --run "$R/demo" --n_faith 2 --device cpu
step "predict --device cuda:0" "${fc[@]}" predict "$R/demo" "$D" --out "$R/pred_gpu.csv" --device cuda:0
step "a GPU-less process loads the exports (CUDA_VISIBLE_DEVICES=)" env CUDA_VISIBLE_DEVICES= $PY - "$R" "$D" <<'PY'
import sys, glob, warnings, torch
from fastai.learner import load_learner
from foodcam.predict import load_classifier
R, D = sys.argv[1:]; f = sorted(glob.glob(f'{D}/*/*.jpg'))[0]
assert not torch.cuda.is_available()
with warnings.catch_warnings(): warnings.simplefilter('ignore'); l = load_learner(f'{R}/export/m.pkl', cpu=False)  # no map_location
print('pkl without map_location:', next(l.model.parameters()).device, l.predict(f)[0])
for m in ('m.pkl', 'm.safetensors'): c = load_classifier(f'{R}/export/{m}'); print(m, c.device, c.predict(f).label)
PY
step "--device cuda:7 (no such GPU: one sentence, rc 1)" "${fc[@]}" predict "$R/demo" "$D" --out /tmp/x.csv --device cuda:7
