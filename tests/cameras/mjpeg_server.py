"""MJPEG over HTTP as IP cameras serve it, for the tests: one multipart/x-mixed-replace
response of JPEG parts per client, paced at the video's frame rate, from its first frame.

Its own process, as a camera is another host (and so that the camera's blocking open in the
node never waits on a server sharing its interpreter). Prints `ready` once it listens.

    python tests/mjpeg_server.py --port 8080 --file clip.avi   # http://127.0.0.1:8080/stream.mjpg
"""

from __future__ import annotations

import argparse
import http.server
import threading

import cv2


class MjpegHandler(http.server.BaseHTTPRequestHandler):
    clip: str

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        capture = cv2.VideoCapture(self.clip)
        interval = 1.0 / (capture.get(cv2.CAP_PROP_FPS) or 10.0)
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        pace = threading.Event()
        try:
            while True:
                ok, image = capture.read()
                if not ok:
                    break
                jpeg = cv2.imencode(".jpg", image)[1].tobytes()
                head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                self.wfile.write(head.encode() + jpeg + b"\r\n")
                pace.wait(interval)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            capture.release()

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", required=True, help="a video file OpenCV can read")
    args = parser.parse_args()
    handler = type("Handler", (MjpegHandler,), {"clip": args.file})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    print("ready", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
