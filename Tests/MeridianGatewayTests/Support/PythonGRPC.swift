import Foundation
import Testing

/// A real gRPC server and client (Python grpcio, generic handlers on raw bytes, so no protoc): the server stands for
/// a model server behind a gateway, the client for a user's program. The script is written to a temporary file.
///
/// `.ci/run` installs grpcio with pip; where `import grpc` fails, the tests that need it are skipped (with
/// ``skipReason``), never passed silently.
enum PythonGRPC {
    /// Whether `python3 -c "import grpc"` succeeds.
    static let isAvailable: Bool = {
        guard let status = try? ChildProcess.runBlocking(["python3", "-c", "import grpc"]) else { return false }
        return status == 0
    }()

    static let skipReason: Comment = "python3 with grpcio is not installed (pip install grpcio)"

    /// The server (`server PORT_FILE`) and the client (`client PORT AUTHORITY`).
    static let script = #"""
"""A gRPC model server and client for the gateway tests, with grpcio generic handlers (raw bytes, no protoc).

  python3 grpc_peer.py server PORT_FILE       # serves pkg.Svc on 127.0.0.1:0 (h2c), writes the port to PORT_FILE
  python3 grpc_peer.py client PORT AUTHORITY  # calls every method through PORT with AUTHORITY, prints JSON
"""
import json
import queue
import sys
import time
from concurrent import futures

import grpc

SERVICE = "pkg.Svc"


def seen_source(context):
    return dict(context.invocation_metadata()).get("meridian-source-cluster", "-")


def unary(request, context):
    context.set_trailing_metadata((("x-trailer", "unary"), ("x-source-cluster", seen_source(context))))
    return b"echo:" + request


def server_stream(request, context):
    context.set_trailing_metadata((("x-trailer", "server-stream"),))
    for index in range(int(request.decode())):
        yield f"msg-{index}".encode()


def client_stream(request_iterator, context):
    count = total = 0
    for message in request_iterator:
        count += 1
        total += len(message)
    context.set_trailing_metadata((("x-trailer", "client-stream"),))
    return f"{count}:{total}".encode()


def bidi(request_iterator, context):
    context.set_trailing_metadata((("x-trailer", "bidi"),))
    for message in request_iterator:
        yield message.upper()


def fail(request, context):
    context.set_trailing_metadata((("x-trailer", "failed"),))
    context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "quota exceeded for " + request.decode())


def fail_mid_stream(request, context):
    context.set_trailing_metadata((("x-trailer", "failed-mid-stream"),))
    yield b"one"
    yield b"two"
    context.abort(grpc.StatusCode.UNAVAILABLE, "model unloaded")


def serve(port_file):
    # The test process blocks signals in its threads and a spawned child inherits the mask: unblock them so that
    # SIGTERM works, and exit when the test process goes away (its pid is no longer our parent).
    import os
    import signal
    import threading
    signal.pthread_sigmask(signal.SIG_UNBLOCK, range(1, signal.NSIG))
    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
        "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "FailMidStream": grpc.unary_stream_rpc_method_handler(fail_mid_stream),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with open(port_file + ".tmp", "w") as f:
        f.write(str(port))
    import os
    os.rename(port_file + ".tmp", port_file)
    server.wait_for_termination()


def outcome(call_or_error, reply=None):
    return {
        "reply": reply,
        "code": call_or_error.code().name,
        "details": call_or_error.details(),
        "trailers": {k: v for k, v in (call_or_error.trailing_metadata() or ())},
    }


def call(port, authority):
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.default_authority", authority)])
    grpc.channel_ready_future(channel).result(timeout=10)
    method = lambda kind, name: getattr(channel, kind)(f"/{SERVICE}/{name}")
    results = {}

    reply, c = method("unary_unary", "Unary").with_call(b"hello", timeout=10)
    results["unary"] = outcome(c, reply.decode())

    stream = method("unary_stream", "ServerStream")(b"5", timeout=10)
    results["server_stream"] = outcome(stream, [m.decode() for m in stream])

    reply, c = method("stream_unary", "ClientStream").with_call(iter([b"a" * 10, b"b" * 20, b"c" * 30]), timeout=10)
    results["client_stream"] = outcome(c, reply.decode())

    # Bidirectional, in lock step: each reply must arrive before the next message is sent (no buffering of the
    # request stream anywhere on the way).
    outgoing = queue.Queue()

    def requests():
        while (item := outgoing.get()) is not None:
            yield item

    stream = method("stream_stream", "Bidi")(requests(), timeout=10)
    replies = []
    for word in ["alpha", "beta", "gamma"]:
        outgoing.put(word.encode())
        replies.append(next(stream).decode())
    outgoing.put(None)
    replies += [m.decode() for m in stream]
    results["bidi"] = outcome(stream, replies)

    try:
        method("unary_unary", "Fail")(b"tenant-7", timeout=10)
        results["fail"] = {"code": "OK"}
    except grpc.RpcError as error:
        results["fail"] = outcome(error)

    stream = method("unary_stream", "FailMidStream")(b"", timeout=10)
    received = []
    try:
        for message in stream:
            received.append(message.decode())
    except grpc.RpcError:
        pass
    results["fail_mid_stream"] = outcome(stream, received)

    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve(sys.argv[2])
    else:
        call(int(sys.argv[2]), sys.argv[3])
"""#

    /// Writes the script to `directory` and returns its path.
    static func writeScript(in directory: String) throws -> String {
        let path = (directory as NSString).appendingPathComponent("grpc_peer.py")
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The Python gRPC server, listening on 127.0.0.1 (h2c).
    final class Server: Sendable {
        let process: ChildProcess
        let port: Int

        private init(process: ChildProcess, port: Int) {
            self.process = process
            self.port = port
        }

        static func start(script: String, directory: String) async throws -> Server {
            let portFile = (directory as NSString).appendingPathComponent("grpc-server.port")
            let process = try ChildProcess.start(["python3", script, "server", portFile], directory: directory, name: "grpc-server")
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text) {
                    return Server(process: process, port: port)
                }
                if !process.isRunning { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            process.terminate()
            throw MeshError(description: "the Python gRPC server did not write its port within 60 s (running: \(process.isRunning)): \(process.standardError())")
        }

        func stop() {
            process.terminate()
        }
    }
}
