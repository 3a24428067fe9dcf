"""A real RTSP server for the tests: GStreamer's RTSP server playing one MJPEG AVI file.

Run with Debian's Python (`/usr/bin/python3`), which has PyGObject and the GStreamer RTSP
server bindings (python3-gi, gir1.2-gst-rtsp-server-1.0); the project's venv has neither.
Each client gets the file from its start, paced by its timestamps as a camera would send it.
Prints `ready` once it listens; SIGTERM ends it cleanly, SIGKILL is a crash.

    /usr/bin/python3 tests/rtsp_server.py --port 8554 --file clip.avi   # rtsp://127.0.0.1:8554/live
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", required=True, help="an AVI file of JPEG frames")
    parser.add_argument("--path", default="/live")
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    # Re-encoded by GStreamer so the JPEGs fit RTP's JPEG payload (RFC 2435).
    factory.set_launch(
        f'( filesrc location="{args.file}" ! avidemux ! jpegdec ! jpegenc quality=85 '
        "! rtpjpegpay name=pay0 pt=26 )"
    )
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{args.port}")
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    print("ready", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
