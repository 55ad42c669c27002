// swift-tools-version:6.0
import PackageDescription

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
        .target(name: "ProxyCore", exclude: ["README.md"]),
        .target(name: "ProxyEvent", dependencies: ["ProxyCore", "CLibevent", "CCurl", "CProxyShim"], exclude: ["README.md"]),
        .executableTarget(name: "proxyd", dependencies: ["ProxyCore", "ProxyEvent"], exclude: ["README.md"]),
        .target(name: "FakeUpstream", dependencies: ["ProxyCore", "ProxyEvent"], exclude: ["README.md"]),
        .executableTarget(name: "think-bench", dependencies: ["ProxyCore"]),
        .executableTarget(name: "fake-upstream", dependencies: ["FakeUpstream", "ProxyCore", "ProxyEvent"]),
        .testTarget(name: "ProxyCoreTests", dependencies: ["ProxyCore"], exclude: ["Fixtures"]),
        .testTarget(name: "ProxyEventTests", dependencies: ["ProxyCore", "ProxyEvent", "FakeUpstream"]),
    ],
    swiftLanguageModes: [.v6]
)
