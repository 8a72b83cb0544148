// swift-tools-version:6.1
import PackageDescription

// Benchmarks of Meridian, apart from the root package so that its dependencies stay out of the product.
// Run from the repository root: swift run -c release --package-path Benchmarks routing-bench
let package = Package(
    name: "meridian-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "meridian", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "routing-bench",
            dependencies: [
                .product(name: "MeridianRouting", package: "meridian"),
                .product(name: "MeridianModel", package: "meridian"),
            ],
            path: "Sources/routing-bench",
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ]
        ),
    ]
)
