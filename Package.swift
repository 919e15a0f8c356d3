// swift-tools-version: 6.0
// Module layout and dependency direction follow ../shared/DESIGN.md: C system libraries at the
// bottom, protocol clients (Curl, Engine, Registry, GitSource) above them, the domain
// (Compose, Dockerfile, Build, Reconcile) above those, and the CLI on top.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    // A module sees the members of the modules it imports, not of theirs: swift-crypto imports
    // swift-corelibs-foundation, whose String extensions (contains, range(of:), ...) would
    // otherwise win over the standard library's and link CoreFoundation and ICU into berth.
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Berth",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "berth", targets: ["berth"]),
        .executable(name: "berth-serve", targets: ["berth-serve"]),
        .executable(name: "berth-fuzz", targets: ["berth-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // System libraries. Each has a shim header for what Swift cannot call directly.
        .systemLibrary(name: "CYAML", path: "Sources/CYAML", pkgConfig: "yaml-0.1",
                       providers: [.apt(["libyaml-dev"])]),
        // libcurl and libgit2 are not linked but opened with dlopen on first use (see their
        // *_dlopen.c): most commands need neither, and loading them and the ~35 libraries they
        // pull in took ~7 ms of every start. Build: apt libcurl4-openssl-dev and libgit2-dev
        // (headers); run: libcurl4 and libgit2-1.5.
        .target(name: "CLazyLibrary", path: "Sources/CLazyLibrary"),
        .target(name: "CCurl", dependencies: ["CLazyLibrary"], path: "Sources/CCurl"),
        .target(name: "CGit2", dependencies: ["CLazyLibrary"], path: "Sources/CGit2"),
        // Before `main` in the berth executable: CBerthPreload's constructor starts loading libcurl
        // when CBerthStart's reading of argv says the command makes requests.
        .target(name: "CBerthStart", path: "Sources/CBerthStart"),
        .target(name: "CBerthPreload", dependencies: ["CBerthStart", "CCurl"], path: "Sources/CBerthPreload"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // Leaf libraries.
        .target(name: "BerthYAML", dependencies: ["CYAML"], swiftSettings: swiftSettings),
        .target(name: "Interpolation", dependencies: ["Platform"], swiftSettings: swiftSettings),
        .target(name: "Dockerfile", dependencies: ["Interpolation"], swiftSettings: swiftSettings),
        .target(name: "ELF", swiftSettings: swiftSettings),
        .target(name: "Platform", swiftSettings: swiftSettings),
        .target(name: "Curl", dependencies: ["CCurl", "Platform", .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        .target(name: "GitSource", dependencies: [
            "Platform",
            "CGit2", "BerthYAML", .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ],
                swiftSettings: swiftSettings),

        // Protocol clients and the domain.
        .target(name: "Compose", dependencies: [
            "Platform",
            "BerthYAML", "Interpolation", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        .target(name: "Engine", dependencies: ["Platform", "Curl", .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        .target(name: "Registry", dependencies: [
            "Platform",
            "Curl", "CZlib", .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        .target(name: "Build", dependencies: [
            "Platform",
            "Engine", "Registry", "Dockerfile", "Compose", "ELF",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        .target(name: "Reconcile", dependencies: [
            "Platform",
            "Engine", "Compose", .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),

        // An app of the repo's berth.yaml loaded as its compose project: for `berth` and the server.
        .target(name: "RepoApps", dependencies: [
            "GitSource", "Compose", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),

        // Long-running parts: state in SQLite, and the `serve` loop with its HTTP side.
        .target(name: "Store", dependencies: [
            .product(name: "GRDB", package: "GRDB.swift"),
        ], swiftSettings: swiftSettings),
        .target(name: "Server", dependencies: [
            "Store", "Reconcile", "Build", "Registry", "GitSource", "RepoApps", "Compose", "BerthYAML", "Engine", "Curl",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),

        // Commands and the executable.
        // Every command but `serve`, which lives in `berth-serve` (BerthServe): NIO, Hummingbird,
        // GRDB and their C code were a third of the `berth` binary. Each start of `berth` relocated
        // and scanned them, and loaded libsqlite3, for commands that never use them.
        .target(name: "BerthCLI", dependencies: [
            "Platform",
            "BerthYAML", "Compose", "Curl", "Engine", "Registry", "Dockerfile", "Build", "Reconcile",
            "GitSource", "RepoApps", "CYAML", "CCurl", "CGit2",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        // `berth serve`: `berth` execs `berth-serve` from its own directory (as git runs git-*).
        .target(name: "BerthServe", dependencies: [
            "BerthCLI", "Server", "Store", "Build", "Engine", "GitSource", "Registry",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        // Start-up is most of a short command, and libcurl's ~30 libraries (opened with dlopen on
        // the first request) are looked up through every library berth itself loads. So:
        // - SwiftPM exports every symbol of an executable on Linux (--export-dynamic): 40,000
        //   dynamic symbols that the loader hashes and the Swift runtime's start-up `dladdr`
        //   scans one by one, ~4 ms of every run. libcurl's libraries need one symbol from berth:
        //   _gnutls_global_init_skip (see Sources/CBerthPreload/berth_preload.c).
        // - CBerthPreload starts loading libcurl before `main`, from an ELF constructor.
        // - libstdc++ and libgcc_s (the Swift runtime's C++ side) are linked statically: the
        //   `link` folder holds linker scripts that -lstdc++ / -lgcc_s find first and that name
        //   the static archives. lld, because it resolves archives in any order.
        // - Relative relocations packed (DT_RELR, glibc 2.36): fewer pages written at start.
        .executableTarget(name: "berth", dependencies: ["BerthCLI", "CBerthPreload"], exclude: ["link"], swiftSettings: swiftSettings,
                          linkerSettings: [.unsafeFlags([
                              "-Xlinker", "--no-export-dynamic", "-use-ld=lld", "-L\(Context.packageDirectory)/Sources/berth/link",
                              "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                              "-Xlinker", "--export-dynamic-symbol=_gnutls_global_init_skip",
                          ], .when(platforms: [.linux]))]),
        // lld for berth-serve too: ops/build-berth names swift-corelibs-foundation's archives after
        // the others (see there), which only a linker that resolves archives in any order accepts.
        .executableTarget(name: "berth-serve", dependencies: ["BerthServe"], swiftSettings: swiftSettings,
                          linkerSettings: [.unsafeFlags(["-use-ld=lld"], .when(platforms: [.linux]))]),

        // Fuzzing: parser entry points, a libFuzzer driver (ops/fuzz) and a seeded pass in FuzzTests.
        .target(name: "FuzzTargets", dependencies: [
            "BerthYAML", "Compose", "Interpolation", "Dockerfile", "Registry", "Engine",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        .executableTarget(name: "berth-fuzz", dependencies: ["FuzzTargets"], swiftSettings: swiftSettings),

        // Tests. TestSupport locates ../shared/fixtures and names test resources uniquely.
        .target(name: "TestSupport", dependencies: [.product(name: "Logging", package: "swift-log")], path: "Tests/TestSupport",
                swiftSettings: swiftSettings),
        .testTarget(name: "BerthYAMLTests", dependencies: ["BerthYAML", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "InterpolationTests", dependencies: ["Interpolation", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ComposeTests", dependencies: ["Compose", "BerthYAML", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "DockerfileTests", dependencies: ["Dockerfile", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "BuildTests", dependencies: ["Build", "ELF", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "PlatformTests", dependencies: ["Platform"], swiftSettings: swiftSettings),
        .testTarget(name: "ELFTests", dependencies: ["ELF", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "CurlTests", dependencies: ["Curl", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ReconcileTests", dependencies: ["Reconcile", "Compose", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "GitSourceTests", dependencies: ["GitSource", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "StoreTests", dependencies: ["Store", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ServerTests", dependencies: [
            "Server", "Store", "GitSource", "Engine", "TestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], swiftSettings: swiftSettings),
        .testTarget(name: "FuzzTests", dependencies: ["FuzzTargets", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "IntegrationTests", dependencies: [
            "Engine", "Curl", "Compose", "Reconcile", "BerthCLI", "CBerthStart", "TestSupport",
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: swiftSettings),
    ]
)
