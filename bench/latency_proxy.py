"""An HTTP proxy on 127.0.0.1 that waits a fixed time before passing each request on.

moto answers a request in ~4 ms of its own CPU; S3 takes tens of milliseconds to a
first byte. `bench.search --s3-latency MS` puts this in front of moto so the S3 rows
also show what a search's request count and concurrency cost where each request waits
(`search.parallel`). Each request is forwarded as it came (method, path, headers, body;
the signature covers the Host header, which is passed unchanged), on its own thread.

    python -m bench.latency_proxy TARGET_PORT DELAY_MS     # prints its port, serves until killed
"""

from __future__ import annotations

import http.client
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


def serve(target_port: int, delay_s: float, port: int = 0) -> ThreadingHTTPServer:
    """The proxy, serving on a daemon thread; `server.server_address[1]` is its port."""
    local = threading.local()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            time.sleep(delay_s)
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection("127.0.0.1", target_port)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
            except (OSError, http.client.HTTPException):
                conn.close()
                local.conn = None
                raise
            data = answer.read()
            self.send_response(answer.status, answer.reason)
            for k, v in answer.getheaders():
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            size = answer.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", size or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str]) -> None:
    server = serve(int(argv[0]), float(argv[1]) / 1000)
    print(server.server_address[1], flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1:])
