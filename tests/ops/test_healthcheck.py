"""The containers' HEALTHCHECK command against a real HTTP server on a free loopback port."""

from __future__ import annotations

import http.server
import threading

from infra.kafka.broker import free_port
from services.ops.healthcheck import main


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_healthy_server_passes_and_a_closed_port_fails(monkeypatch):
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        monkeypatch.setenv("INTERAREC_TEST_PORT", str(port))
        assert main(["INTERAREC_TEST_PORT", "1"]) == 0
        monkeypatch.delenv("INTERAREC_TEST_PORT")
        assert main(["INTERAREC_TEST_PORT", str(port)]) == 0  # the default when the variable is unset
    finally:
        server.shutdown()
        server.server_close()
    assert main(["INTERAREC_TEST_PORT", str(free_port())]) == 1  # nothing listens there
    assert main([]) == 2
