# foodcam task runner. `make demo` runs the main job, `make test` the tests; both set up .venv first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.foodcam-installed
DATA ?=
# the demo's budgets: --quick (laptop-sized) on a CPU, the full ones on a CUDA GPU ($FOODCAM_DEVICE, else what torch finds)
DEVICE = $(shell $(PY) -c 'from foodcam.core import default_device; print(default_device().type)' 2>/dev/null)
ARGS ?= $(if $(filter cuda,$(DEVICE)),,--quick)
REAL ?=

.PHONY: venv demo test test-slow notebooks prepare bench clean-venv help
help:
	@echo "make demo [DATA=path/to/dataset] [ARGS=...]  run the whole foodcam job (ARGS default: --quick on a CPU, none on a GPU)"
	@echo "make test        fast tests: sync check, notebooks (nbdev_test), pytest"
	@echo "make test REAL=1 the same plus the real-data guards and the 2-process test (what CI runs)"
	@echo "make test-slow   the same, with the #| slow cells too (needs the real data)"
	@echo "make notebooks   re-execute the tutorials (nbs/tutorials) and index.ipynb on the real data, write their outputs in place"
	@echo "make prepare     nbdev_export + nbdev_clean (run before committing)"
	@echo "make bench       install the benchmarks' extra (.[bench]); the benchmarks and their figures are in bench/README.md"

venv: $(STAMP)
$(STAMP): settings.ini setup.py requirements-lock.txt
	@bash tools/setup_venv.sh $(VENV)
	@touch $(STAMP)

demo: venv
	$(VENV)/bin/foodcam demo $(DATA) $(ARGS)

test: venv
	$(PY) tools/run_tests.py $(if $(REAL),--real)

test-slow: venv
	$(PY) tools/run_tests.py --slow

notebooks: venv
	$(PY) tools/run_notebooks.py

prepare: venv
	$(VENV)/bin/nbdev_export && $(VENV)/bin/nbdev_clean

bench: venv
	@$(PY) -m pip install -q -c requirements-lock.txt -e ".[dev,all,bench]" && echo "bench extra installed (pytorch-grad-cam). Each benchmark's command and figures: bench/README.md, e.g. $(PY) bench/cam.py --bs 64 --size 256 --reps 3"

clean-venv:
	rm -rf $(VENV)
