# The two commands of the README. Both set up .venv from scratch when it is missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt
DEMO   ?= runs/demo-ppo2-cartpole

.PHONY: demo test test-quick install install-dev clean

$(VENV)/.base: setup.cfg constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip setuptools wheel
	$(PIP) torch==2.13.0          # pinned first: never pulls a CUDA build on a CPU machine
	$(PIP) -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PIP) -e ".[dev]"
	touch $@

install: $(VENV)/.base
install-dev: $(VENV)/.dev

# Train PPO2 on CartPole-v1 with its preset (rl-zoo's settings, 99,840 steps), evaluate it over 20 episodes.
demo: $(VENV)/.base
	$(VENV)/bin/rlkit train ppo2 --env CartPole-v1 --preset zoo --seed 0 --log-dir $(DEMO) --overwrite --eval-episodes 20
	$(VENV)/bin/rlkit eval $(DEMO) --episodes 20

test: $(VENV)/.dev
	$(PY) -m pytest -q tests

# Everything but the learning runs and the subprocess signal/CLI runs (marked slow).
test-quick: $(VENV)/.dev
	$(PY) -m pytest -q -m "not slow" tests

clean:
	rm -rf $(VENV) runs build *.egg-info
