#!/usr/bin/env python3
"""The model server's side of the window benchmark: PUT/POST bodies are read and dropped (answered with the byte
count), `GET /bytes/N` answers N zero bytes with a content-length. Usage: sink.py HOST PORT"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 1 << 20
ZEROS = bytes(CHUNK)


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def read_body(self):
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return total
                while size:
                    got = len(self.rfile.read(min(size, CHUNK)))
                    if not got:
                        return total
                    total, size = total + got, size - got
                self.rfile.readline()
        remaining = int(self.headers.get("content-length", "0"))
        total = 0
        while remaining:
            got = len(self.rfile.read(min(remaining, CHUNK)))
            if not got:
                break
            total, remaining = total + got, remaining - got
        return total

    def answer(self, body):
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        self.answer(f"{self.read_body()}\n".encode())

    do_POST = do_PUT

    def do_GET(self):
        if not self.path.startswith("/bytes/"):
            self.answer(b"ok\n")
            return
        remaining = int(self.path[len("/bytes/"):])
        self.send_response(200)
        self.send_header("content-type", "application/octet-stream")
        self.send_header("content-length", str(remaining))
        self.end_headers()
        while remaining:
            n = min(remaining, CHUNK)
            self.wfile.write(ZEROS[:n])
            remaining -= n


ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Sink).serve_forever()
