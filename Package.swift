// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// The data plane's release builds leave out the run-time exclusivity checks (each `swift_beginAccess` on a class's
// stored property: about 110 per request in each gateway, 5 % of the pair's instructions, callgrind). The compile-time
// checks stay, and debug builds, which every test runs, keep the run-time ones: an overlapping access traps there.
// They also end an object's lifetime at its last use, not at the end of the variable's scope (lexical lifetimes off,
// Swift's rule before 5.7): fewer retains and releases kept for scopes, 2-7 % of the pair's instructions per request
// (docs/benchmarks.md, the twenty-first round). The module keeps no weak references and reads no pointer into an
// object past that object's last use (`FieldBytes` reads its storage inside `withExtendedLifetime`); its release
// build passes the gateway's tests (`Scripts/release-tests.sh`).
let dataPlaneSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked", "-Xfrontend", "-enable-lexical-lifetimes=false"], .when(configuration: .release)),
]

// The gateway's tests, built in release by `Scripts/release-tests.sh` only, are themselves compiled unoptimized: they
// test the optimized gateway. (Optimized, the embedded-channel pairs of `TunnelHTTP2HandlerTests` crash in the tests'
// own code, whichever flags the gateway's module has, -Onone included; unoptimized, every gateway test passes.)
let gatewayTestSettings: [SwiftSetting] = [
    .unsafeFlags(["-Onone"], .when(configuration: .release)),
]

let package = Package(
    name: "meridian",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "meridian", targets: ["meridian"]),
        .executable(name: "meridian-gateway", targets: ["meridian-gateway"]),
        .library(name: "MeridianModel", targets: ["MeridianModel"]),
        .library(name: "MeridianRouting", targets: ["MeridianRouting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0", traits: []),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        .target(
            name: "MeridianModel",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Policy documents and the region catalog read from YAML with Yams, apart from MeridianModel so that the
        // gateway links neither Yams nor corelibs Foundation (which Yams imports): fewer resident pages.
        .target(
            name: "MeridianYAML",
            dependencies: [
                "MeridianModel",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianRouting",
            dependencies: ["MeridianModel"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianStore",
            dependencies: [
                "MeridianModel",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianPKI",
            dependencies: [
                "MeridianModel",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianHub",
            dependencies: [
                "MeridianModel", "MeridianYAML", "MeridianRouting", "MeridianStore", "MeridianPKI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianClient",
            dependencies: [
                "MeridianModel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MeridianGateway",
            dependencies: [
                "MeridianModel", "MeridianPKI", "MeridianClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings + dataPlaneSettings
        ),
        .target(
            name: "MeridianDemo",
            dependencies: [
                "MeridianModel", "MeridianClient", "MeridianRouting", "MeridianPKI", "MeridianStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `meridian gateway`'s command, shared with the `meridian-gateway` executable.
        .target(
            name: "MeridianGatewayCommand",
            dependencies: [
                "MeridianGateway", "MeridianModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The gateway alone: no hub, PostgreSQL client, Hummingbird or demo linked in, so a gateway maps and touches
        // fewer pages (resident memory) than the all-in-one `meridian`.
        .executableTarget(
            name: "meridian-gateway",
            dependencies: [
                "MeridianGatewayCommand",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings,
            // `--static-swift-stdlib` links with `-export-dynamic` (the toolchain's static-stdlib-args.lnk): every
            // symbol of the package's objects in the dynamic symbol table, 3.8 MB of the file, 1.5 MB resident (the
            // dynamic loader searches it at start). Nothing looks the gateway's own symbols up at run time, and crash
            // backtraces (swift-backtrace) read the full symbol table and DWARF from the file: linked without it.
            linkerSettings: [.unsafeFlags(["-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux]))]
        ),
        .executableTarget(
            name: "meridian",
            dependencies: [
                "MeridianModel", "MeridianRouting", "MeridianStore", "MeridianPKI",
                "MeridianHub", "MeridianGateway", "MeridianGatewayCommand", "MeridianClient", "MeridianDemo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "MeridianModelTests", dependencies: ["MeridianModel"], swiftSettings: swiftSettings),
        .testTarget(name: "MeridianYAMLTests", dependencies: ["MeridianYAML", "MeridianModel"], swiftSettings: swiftSettings),
        .testTarget(name: "MeridianRoutingTests", dependencies: ["MeridianRouting", "MeridianModel"], swiftSettings: swiftSettings),
        .testTarget(name: "MeridianStoreTests", dependencies: ["MeridianStore", "MeridianModel"], swiftSettings: swiftSettings),
        .testTarget(name: "MeridianPKITests", dependencies: [
            "MeridianPKI", "MeridianModel",
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], swiftSettings: swiftSettings),
        .testTarget(name: "MeridianHubTests", dependencies: [
            "MeridianHub", "MeridianStore", "MeridianModel", "MeridianClient", "MeridianPKI", "MeridianRouting",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: swiftSettings),
        .testTarget(name: "MeridianGatewayTests", dependencies: [
            "MeridianGateway", "MeridianPKI", "MeridianModel",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            .product(name: "NIOHPACK", package: "swift-nio-http2"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], swiftSettings: swiftSettings + gatewayTestSettings),
        .testTarget(name: "MeridianGatewayCommandTests", dependencies: ["MeridianGatewayCommand", "MeridianGateway"],
                    swiftSettings: swiftSettings + gatewayTestSettings),
        .testTarget(name: "EndToEndTests", dependencies: ["MeridianModel", "MeridianClient", "MeridianPKI", "MeridianDemo"], swiftSettings: swiftSettings),
    ]
)
