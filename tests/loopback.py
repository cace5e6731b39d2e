"""Loopback HTTP servers for tests that stand in for an endpoint (an SNS
http subscriber): bound to 127.0.0.1 on a free port, served from a daemon
thread, so tests never send traffic beyond this machine."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that writes no access log to stderr."""

    def read_body(self) -> bytes:
        """The request body (Content-Length bytes)."""
        return self.rfile.read(int(self.headers["Content-Length"]))

    def answer(self, status: int = 200, *, caller_may_be_gone: bool = False):
        """An empty answer with `status`; with `caller_may_be_gone`, a client
        that hung up (OSError) is not an error."""
        try:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except OSError:
            if not caller_may_be_gone:
                raise

    def log_message(self, *args):
        pass


def serve(handler: type[BaseHTTPRequestHandler], *, daemon_threads: bool = False) -> ThreadingHTTPServer:
    """A ThreadingHTTPServer for `handler` on 127.0.0.1 (its port:
    `server_port`), already serving; end it with `stop`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = daemon_threads
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop(server: ThreadingHTTPServer):
    server.shutdown()
    server.server_close()
