import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

@testable import MeridianGateway

/// The gateway's heads as NIO's and back, for the tests that hold the gateway's codecs to NIO's.
extension HeaderFields {
    init(_ nio: HTTPHeaders) {
        self.init(nio.map { ($0.name, $0.value) })
    }

    var nio: HTTPHeaders { HTTPHeaders(fields.map { ($0.name, $0.value) }) }
}

extension RequestHead {
    init(_ nio: HTTPRequestHead) {
        self.init(version: nio.version, method: nio.method, uri: nio.uri, headers: HeaderFields(nio.headers))
    }

    var nio: HTTPRequestHead { HTTPRequestHead(version: version, method: method, uri: uri, headers: headers.nio) }
}

extension ResponseHead {
    var nio: HTTPResponseHead { HTTPResponseHead(version: version, status: status, headers: headers.nio) }
}

extension MessagePart where Head == RequestHead, Body == IOData {
    var nio: HTTPClientRequestPart {
        switch self {
        case .head(let head): .head(head.nio)
        case .body(let body): .body(body)
        case .end(let trailers): .end(trailers?.nio)
        }
    }
}

extension StreamFrame.Payload {
    /// As NIO's frame payload.
    var nio: HTTP2Frame.FramePayload {
        switch self {
        case .headers(let headers): .headers(.init(headers: HPACKHeaders(headers.headers.map { ($0.name, $0.value) }), endStream: headers.endStream))
        case .data(let data): .data(data)
        case .rstStream(let code): .rstStream(code)
        case .windowUpdate(let increment): .windowUpdate(windowSizeIncrement: increment)
        case .ping(let data, let ack): .ping(data, ack: ack)
        case .goAway(let last, let code, let opaque): .goAway(lastStreamID: last, errorCode: code, opaqueData: opaque)
        }
    }
}
