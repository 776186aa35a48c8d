# Set-up on a fresh machine: `make demo` or `make test` create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/facedyn demo -o out/demo.mp4

test: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/bench_animate.py

clean:
	rm -rf $(VENV) out
