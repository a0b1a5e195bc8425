#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment: foodcam (editable) with its dev tools and every extra (the Gradio app's too), at the exact
# versions of requirements-lock.txt (constraints), so tests and figures are reproducible. The package itself asks only for ranges.
set -euo pipefail
VENV=${1:-.venv}
find_python() {
  for p in python3.11 /root/.pyenv/versions/3.11*/bin/python3.11 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(sys.version_info[:2]!=(3,11))' 2>/dev/null; then echo "$p"; return; fi
  done
  echo "foodcam needs Python 3.11 (the pinned torch/fastai set is verified there); install it and retry" >&2; exit 1
}
pip_q() { # quiet pip; on failure show its log
  local log; log=$(mktemp)
  if ! "$VENV/bin/python" -m pip install "$@" >"$log" 2>&1; then
    grep -v "^WARNING: Location" "$log" | tail -30; echo "pip install $* failed (log above)" >&2; exit 1
  fi
  rm -f "$log"
}
if [ ! -x "$VENV/bin/python" ]; then
  PY=$(find_python); echo "creating $VENV with $PY"; "$PY" -m venv "$VENV"
else
  echo "reusing $VENV"
fi
echo "installing foodcam, its dev tools and extras at the versions of requirements-lock.txt (torch is large: the first time takes a few minutes)"
pip_q -c requirements-lock.txt -e ".[dev,all,app]"
"$VENV/bin/python" -c "import foodcam, torch, fastai, timm; print('foodcam', foodcam.__version__, '| torch', torch.__version__, '| fastai', fastai.__version__, '| timm', timm.__version__)"
