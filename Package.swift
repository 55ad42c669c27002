// swift-tools-version:6.0
import PackageDescription

// Release builds skip the run-time exclusivity checks on class properties (each access to a
// connection's or a stream's state cost ~80 instructions there, ~30K per streamed answer);
// debug builds, which the test suite runs, keep them, so an overlapping access still traps in tests.
let hotPathSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "proxyd",
    products: [
        .library(name: "ProxyCore", targets: ["ProxyCore"]),
        .library(name: "ProxyEvent", targets: ["ProxyEvent"]),
        .executable(name: "proxyd", targets: ["proxyd"]),
        .executable(name: "fake-upstream", targets: ["fake-upstream"]),
    ],
    targets: [
        .systemLibrary(
            name: "CLibevent",
            pkgConfig: "libevent_pthreads",
            providers: [.apt(["libevent-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "CProxyShim", dependencies: ["CCurl", "CLibevent"]),
        .target(name: "ProxyCore", exclude: ["README.md"], swiftSettings: hotPathSettings),
        .target(name: "ProxyEvent", dependencies: ["ProxyCore", "CLibevent", "CCurl", "CProxyShim"], exclude: ["README.md"],
                swiftSettings: hotPathSettings),
        .executableTarget(name: "proxyd", dependencies: ["ProxyCore", "ProxyEvent"], exclude: ["README.md"]),
        .target(name: "FakeUpstream", dependencies: ["ProxyCore", "ProxyEvent"], exclude: ["README.md"]),
        .executableTarget(name: "think-bench", dependencies: ["ProxyCore"]),
        .executableTarget(name: "fake-upstream", dependencies: ["FakeUpstream", "ProxyCore", "ProxyEvent"]),
        .testTarget(name: "ProxyCoreTests", dependencies: ["ProxyCore"], exclude: ["Fixtures"]),
        .testTarget(name: "ProxyEventTests", dependencies: ["ProxyCore", "ProxyEvent", "FakeUpstream"]),
    ],
    swiftLanguageModes: [.v6]
)
