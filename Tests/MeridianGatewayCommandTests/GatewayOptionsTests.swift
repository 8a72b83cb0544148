import ArgumentParser
import MeridianGateway
import Testing

@testable import MeridianGatewayCommand

/// `meridian-gateway gateway` options as the configuration the gateway runs with.
@Suite("Gateway options")
struct GatewayOptionsTests {
    static let required = ["--cluster", "fra", "--table", "/dev/null", "--data-dir", "/tmp/meridian-options-test"]

    static func configuration(_ arguments: [String]) throws -> (window: Int, windowMax: Int, maxHeaderBytes: Int) {
        let command = try GatewayCommand.parse(required + arguments)
        let configuration = try command.makeConfiguration(environment: [:])
        return (configuration.http2Window, configuration.http2WindowMax, configuration.maxHeaderBytes)
    }

    @Test("--http2-window sets the HTTP/2 window in KiB; 1 MiB by default")
    func http2Window() throws {
        #expect(try Self.configuration([]).window == 1 << 20)
        #expect(try Self.configuration(["--http2-window", "4096"]).window == 4 << 20)
    }

    @Test("a window HTTP/2 cannot carry is refused, naming the option and the range")
    func http2WindowOutOfRange() throws {
        for value in ["0", "63", "2097152"] {
            #expect {
                _ = try Self.configuration(["--http2-window", value])
            } throws: { error in
                "\(error)".contains("--http2-window must be between 64 and 2097151 KiB")
            }
        }
    }

    @Test("--http2-window-max sets the largest window a tunnel grows to, in KiB; 16 MiB by default")
    func http2WindowMax() throws {
        #expect(try Self.configuration([]).windowMax == 16 << 20)
        #expect(try Self.configuration(["--http2-window-max", "1024"]).windowMax == 1 << 20)
        for value in ["0", "63", "2097152"] {
            #expect {
                _ = try Self.configuration(["--http2-window-max", value])
            } throws: { error in
                "\(error)".contains("--http2-window-max must be between 64 and 2097151 KiB")
            }
        }
    }
}
