import NIOCore
import NIOEmbedded
import Testing

@testable import MeridianGateway

/// ``Deadlines`` (the per-loop request timeouts) on an embedded event loop, whose clock only moves when told.
@Suite("Request deadlines")
struct ExchangeDeadlinesTests {
    final class Request: DeadlineHolder {
        let name: String
        let log: Log
        init(_ name: String, log: Log) {
            self.name = name
            self.log = log
        }
        func deadlinePassed() { log.fired.append(name) }
    }

    final class Log {
        var fired: [String] = []
    }

    @Test("requests time out in deadline order across timeout lengths, each once, and not before their time")
    func ordering() {
        let loop = EmbeddedEventLoop()
        let deadlines = Deadlines<Request>(eventLoop: loop)
        let log = Log()
        _ = deadlines.add(Request("slow", log: log), timeout: .seconds(10))
        loop.advanceTime(by: .seconds(1))
        _ = deadlines.add(Request("quick", log: log), timeout: .seconds(2))      // due at 3 s
        _ = deadlines.add(Request("slow-2", log: log), timeout: .seconds(10))    // due at 11 s
        loop.advanceTime(by: .milliseconds(1999))
        #expect(log.fired.isEmpty)
        loop.advanceTime(by: .milliseconds(1))
        #expect(log.fired == ["quick"])
        loop.advanceTime(by: .seconds(7))                                         // 10 s
        #expect(log.fired == ["quick", "slow"])
        loop.advanceTime(by: .seconds(5))
        #expect(log.fired == ["quick", "slow", "slow-2"])
    }

    @Test("a cancelled request never times out, and the ones after it still do, on time")
    func cancel() {
        let loop = EmbeddedEventLoop()
        let deadlines = Deadlines<Request>(eventLoop: loop)
        let log = Log()
        let first = deadlines.add(Request("first", log: log), timeout: .seconds(1))
        let middle = deadlines.add(Request("middle", log: log), timeout: .seconds(1))
        loop.advanceTime(by: .milliseconds(500))
        _ = deadlines.add(Request("last", log: log), timeout: .seconds(1))         // due at 1.5 s
        deadlines.cancel(first)
        deadlines.cancel(middle)
        deadlines.cancel(middle)                                                   // twice: harmless
        loop.advanceTime(by: .milliseconds(600))                                   // 1.1 s: the woken task finds nothing due
        #expect(log.fired.isEmpty)
        loop.advanceTime(by: .milliseconds(400))                                   // 1.5 s
        #expect(log.fired == ["last"])
    }

    @Test("after every deadline passed or was cancelled, a new request arms the timer again")
    func rearm() {
        let loop = EmbeddedEventLoop()
        let deadlines = Deadlines<Request>(eventLoop: loop)
        let log = Log()
        _ = deadlines.add(Request("a", log: log), timeout: .milliseconds(100))
        loop.advanceTime(by: .milliseconds(100))
        let cancelled = deadlines.add(Request("b", log: log), timeout: .milliseconds(100))
        deadlines.cancel(cancelled)
        loop.advanceTime(by: .seconds(1))
        _ = deadlines.add(Request("c", log: log), timeout: .milliseconds(50))
        loop.advanceTime(by: .milliseconds(50))
        #expect(log.fired == ["a", "c"])
    }
}
