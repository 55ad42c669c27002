@testable import ProxyEvent
import Testing

@Suite("Event loop lifetimes")
struct EventLoopTests {
    @Test("a loop lives as long as any timer or socket watch on it, so their events are never freed after its base")
    func loopOutlivesItsEvents() {
        weak var weakLoop: EventLoop?
        var timer: LoopTimer?
        var watch: UpstreamClient.SocketWatch?
        do {
            let loop = EventLoop()
            weakLoop = loop
            timer = LoopTimer(loop: loop) {}
            timer?.schedule(after: 60)
            watch = UpstreamClient.SocketWatch(loop: loop)
        }
        #expect(weakLoop != nil)
        timer = nil
        #expect(weakLoop != nil)  // the socket watch still holds it
        watch = nil
        #expect(weakLoop == nil)
    }
}
