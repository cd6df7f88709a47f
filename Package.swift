// swift-tools-version: 6.1
import PackageDescription

// The targets read like the data path: sources -> inbox -> mapping -> outbox -> upstream.
// Pure targets (EdgeCore, JSONQuery, FHIRModel, Mapping) do no I/O and have no third-party imports;
// the cryptography they need comes from swift-crypto through EdgeCrypto, the one target between them.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "fhir-edge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fhir-edge", targets: ["fhir-edge"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Gateway only: the local HTTP API (Hummingbird without TLS/HTTP2: loopback/LAN), graceful
        // shutdown in order (service-lifecycle), structured logs (swift-log). YAML configuration is
        // read through Debian's libyaml (the CYAML target), not a package. Metrics are rendered
        // as Prometheus text by hand from one actor's counters, so no metrics backend is pulled in.
        // Hummingbird's default traits (swift-configuration, full Foundation) are not needed.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        // Hummingbird's own NIO, named for the local API's connection guard (idle and body timeouts, a cap).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        // TLS on the local API, with certificates reloaded on SIGHUP (Hummingbird's own TLS stack).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // Signing SMART Backend Services client assertions (RS384 / ES384), BLE pairing, and the store's encryption at rest.
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        .target(name: "EdgeCore", swiftSettings: strict),
        // The operating system without Foundation: pthreads for blocking C libraries, path text and
        // stat, child processes. Foundation's Thread, NSString and Process would link all of
        // Foundation and its ICU data into the static binary.
        .target(name: "EdgeSystem", dependencies: ["EdgeCore"], swiftSettings: strict),
        .target(name: "JSONQuery", swiftSettings: strict),
        .target(name: "FHIRModel", dependencies: ["JSONQuery"], swiftSettings: strict),
        // SHA-256 (resource ids, profile versions, the journal's chain) and BTHome's AES-CCM from
        // swift-crypto. Apart from EdgeCore so that EdgeCore stays free of packages, and small so
        // that the pure targets depending on it pull in the library and nothing else.
        .target(
            name: "EdgeCrypto",
            dependencies: ["EdgeCore", .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto")],
            swiftSettings: strict),
        // MedTech's conventions for resources, apart from the templates: deterministic ids, Lookup
        // placeholders, SampledData streams and their merge. The mapping makes them; the uploader
        // reads and merges them without the mapping.
        .target(name: "FHIRConventions", dependencies: ["EdgeCore", "EdgeCrypto", "FHIRModel"], swiftSettings: strict),
        .target(name: "Mapping", dependencies: ["EdgeCore", "EdgeCrypto", "JSONQuery", "FHIRModel", "FHIRConventions"], swiftSettings: strict),
        // SQLite's C API (Debian's libsqlite3), for the store alone.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // Store is the one home of SQLite, through its own small layer (Sources/Store/SQLite); Audit builds on Store's API.
        // Store also encrypts patient data at rest (AES-256-GCM, HMAC-SHA256, AES key wrap from swift-crypto).
        .target(
            name: "Store",
            dependencies: [
                "EdgeCore", "EdgeSystem", "JSONQuery", "CSQLite", .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        .target(name: "Audit", dependencies: ["EdgeCore", "EdgeCrypto", "JSONQuery", "Store"], swiftSettings: strict),
        // Field kits: signed, optionally encrypted Bulk Data exports carried between gateways (X25519, ChaCha20-Poly1305, Ed25519).
        .target(
            name: "FieldKit", dependencies: ["EdgeCore", "EdgeSystem", "JSONQuery", "Store", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        // libcurl for the upstream HTTP client (TLS, mTLS, proxies, keep-alive) without a NIO stack.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(
            name: "Upstream",
            dependencies: [
                "EdgeCore", "EdgeSystem", "EdgeCrypto", "JSONQuery", "FHIRModel", "FHIRConventions", "Store", "Audit", "CCurl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // Acquisition: device sources that produce JSON device messages for the same templates.
        // libmodbus blocks, so each Modbus connection runs on its own thread inside `Modbus`.
        .systemLibrary(name: "CModbus", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),
        .target(name: "Modbus", dependencies: ["EdgeCore", "EdgeSystem", "JSONQuery", "CModbus"], path: "Sources/Acquisition/Modbus", swiftSettings: strict),
        // libmosquitto for MQTT: one dedicated thread per broker runs its network loop (MQTTSession).
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        .target(name: "MQTT", dependencies: ["EdgeCore", "EdgeSystem", "EdgeCrypto", "CMosquitto"], path: "Sources/Acquisition/MQTT", swiftSettings: strict),
        // The kernel's HCI user channel (headers from libbluetooth-dev; nothing is linked from it).
        .target(name: "CBluetoothHCI"),
        .target(name: "BluetoothDecoding", dependencies: ["EdgeCore", "EdgeCrypto", "JSONQuery"], path: "Sources/Acquisition/BluetoothDecoding", swiftSettings: strict),
        // SMP's P-256 ECDH and AES-CMAC come from swift-crypto, as the upstream's JWS signatures do.
        .target(
            name: "Bluetooth",
            dependencies: [
                "EdgeCore", "EdgeSystem", "JSONQuery", "BluetoothDecoding", "CBluetoothHCI",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            path: "Sources/Acquisition/Bluetooth", swiftSettings: strict),
        // HL7 v2: ER7 parsing, ACKs, MLLP framing and PCD-01 to device messages; pure, so it fuzzes without NIO.
        .target(name: "HL7", dependencies: ["EdgeCore", "JSONQuery"], path: "Sources/Intake/HL7", swiftSettings: strict),
        // The MLLP listener: NIO on its own event loops, delivering through the intake seam.
        .target(
            name: "MLLP",
            dependencies: [
                "EdgeCore", "JSONQuery", "HL7",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Sources/Intake/MLLP", swiftSettings: strict),
        // Simulated monitors pushing demo-vitals to the local API (`fhir-edge simulate`, the demo,
        // tests), with the small loopback HTTP client they and the diagnostics use: not the daemon's.
        .target(name: "Simulator", dependencies: ["EdgeCore", "JSONQuery"], swiftSettings: strict),
        // YAML for the configuration and profile.yaml files: libyaml's event parser, and a node tree
        // of our own built from its events (bounded, with marks), so nothing of Foundation comes with it.
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .target(name: "YAML", dependencies: ["CYAML"], swiftSettings: strict),
        // Gateway is the one home of Hummingbird, ServiceLifecycle and Logging, and YAML's one user.
        .target(
            name: "Gateway",
            dependencies: [
                "EdgeCore", "EdgeSystem", "EdgeCrypto", "JSONQuery", "FHIRModel", "Mapping", "Store", "Audit", "Upstream",
                "Modbus", "Bluetooth", "BluetoothDecoding", "MQTT", "HL7", "MLLP", "YAML",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "fhir-edge",
            dependencies: [
                "EdgeCore", "EdgeSystem", "JSONQuery", "FHIRModel", "Mapping", "Store", "Audit", "Gateway", "Upstream", "FieldKit",
                "Modbus", "Bluetooth", "BluetoothDecoding", "Simulator",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Benchmarks: run by scripts/bench-*.sh against their baselines, never timed inside tests.
        .executableTarget(
            name: "MappingBenchmark", dependencies: ["Mapping", "JSONQuery", "EdgeCore"], path: "Benchmarks/MappingBenchmark",
            swiftSettings: strict),
        .executableTarget(
            name: "IngestBenchmark",
            dependencies: ["Store", "Audit", "EdgeCore", "JSONQuery", "Gateway", "Simulator", "CSQLite"],
            path: "Benchmarks/IngestBenchmark", swiftSettings: strict),
        .executableTarget(
            name: "UploadBenchmark",
            dependencies: ["Upstream", "Store", "Audit", "Mapping", "FHIRModel", "EdgeCore", "JSONQuery"],
            path: "Benchmarks/UploadBenchmark", swiftSettings: strict),
        .executableTarget(
            name: "ModbusBenchmark", dependencies: ["Modbus", "EdgeCore", "JSONQuery"], path: "Benchmarks/ModbusBenchmark",
            swiftSettings: strict),
        .executableTarget(
            name: "BluetoothBenchmark", dependencies: ["Bluetooth", "BluetoothDecoding", "EdgeCore", "JSONQuery"],
            path: "Benchmarks/BluetoothBenchmark", swiftSettings: strict),
        .target(name: "TestSupport", dependencies: ["EdgeCore"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "EdgeCoreTests", dependencies: ["EdgeCore"], swiftSettings: strict),
        .testTarget(name: "EdgeSystemTests", dependencies: ["EdgeSystem", "EdgeCore"], swiftSettings: strict),
        .testTarget(name: "EdgeCryptoTests", dependencies: ["EdgeCrypto", "EdgeCore"], swiftSettings: strict),
        .testTarget(
            name: "JSONQueryTests", dependencies: ["JSONQuery", "EdgeCore", "TestSupport"],
            exclude: ["JSONPathExpectedFailures.json"], swiftSettings: strict
        ),
        .testTarget(
            name: "MappingTests", dependencies: ["Mapping", "FHIRConventions", "EdgeCrypto", "JSONQuery", "FHIRModel", "EdgeCore", "TestSupport"],
            exclude: ["IoMTConversionExpectedFailures.json"], swiftSettings: strict),
        .testTarget(name: "CLITests", dependencies: ["fhir-edge", "TestSupport", "JSONQuery", "EdgeCore"], swiftSettings: strict),
        .testTarget(name: "StoreTests", dependencies: ["Store", "CSQLite", "EdgeCore", "JSONQuery", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "FieldKitTests", dependencies: ["FieldKit", "Store", "Audit", "EdgeCore", "JSONQuery", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        .testTarget(name: "AuditTests", dependencies: ["Audit", "Store", "EdgeCore", "JSONQuery"], swiftSettings: strict),
        .testTarget(name: "UpstreamTests", dependencies: ["Upstream", "EdgeCrypto", "Store", "Audit", "FHIRModel", "FHIRConventions", "Mapping", "EdgeCore", "JSONQuery", "TestSupport"], swiftSettings: strict),
        // Against a real FHIR server (sekmet-fhir) and Python peers from .venv; runs the built binary.
        .testTarget(
            name: "UpstreamEndToEndTests",
            dependencies: ["fhir-edge", "Upstream", "Store", "Audit", "FHIRModel", "FHIRConventions", "EdgeCore", "JSONQuery", "TestSupport", "FieldKit"],
            swiftSettings: strict),
        .testTarget(
            name: "ModbusTests",
            dependencies: ["Modbus", "fhir-edge", "Gateway", "Mapping", "Store", "TestSupport", "EdgeCore", "JSONQuery"],
            swiftSettings: strict),
        .testTarget(
            name: "BluetoothDecodingTests", dependencies: ["BluetoothDecoding", "Mapping", "TestSupport", "EdgeCore", "JSONQuery"],
            swiftSettings: strict),
        // Against ../shared/ble-rig (a Bumble virtual controller over TCP H4), started by the tests.
        .testTarget(
            name: "BluetoothTests",
            dependencies: ["Bluetooth", "BluetoothDecoding", "fhir-edge", "Gateway", "Store", "TestSupport", "EdgeCore", "JSONQuery"],
            swiftSettings: strict),
        // Unit tests of the MQTT source, and runs against a real Mosquitto broker and paho-mqtt from .venv.
        .testTarget(
            name: "MQTTTests",
            dependencies: ["MQTT", "fhir-edge", "Gateway", "Store", "TestSupport", "EdgeCore", "JSONQuery"],
            swiftSettings: strict),
        .testTarget(name: "HL7Tests", dependencies: ["HL7", "MLLP", "Mapping", "EdgeCore", "JSONQuery", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "YAML", "Simulator", "FHIRConventions", "Upstream", "Store", "Audit", "Mapping", "EdgeCore", "JSONQuery"], swiftSettings: strict),
        // Process-level: runs the built daemon and commands on loopback (crash safety, tampering, backpressure).
        .testTarget(
            name: "PipelineTests", dependencies: ["fhir-edge", "Gateway", "EdgeCrypto", "TestSupport", "Store", "Audit", "JSONQuery", "EdgeCore"],
            swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets over the parsers, declared only when scripts/fuzz.sh builds them
// (FHIR_EDGE_FUZZ=1, with -sanitize=fuzzer,address into .build-fuzz). The Bluetooth host's packet
// targets (HCI, L2CAP, ATT, SMP) bring swift-crypto in with the Bluetooth target; the others depend
// on pure targets, whose one package is swift-crypto, through EdgeCrypto (Mapping, BluetoothDecoding).
if Context.environment["FHIR_EDGE_FUZZ"] != nil {
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("FuzzJSON", ["JSONQuery"]),
        ("FuzzJSONPath", ["JSONQuery"]),
        ("FuzzJMESPath", ["JSONQuery"]),
        ("FuzzTemplates", ["Mapping", "FHIRModel", "JSONQuery", "EdgeCore"]),
        ("FuzzBluetoothDecoding", ["BluetoothDecoding", "JSONQuery", "EdgeCore"]),
        ("FuzzModbusRegisters", ["Modbus"]),
        ("FuzzHCI", ["Bluetooth"]),
        ("FuzzL2CAP", ["Bluetooth"]),
        ("FuzzATT", ["Bluetooth"]),
        ("FuzzSMP", ["Bluetooth"]),
        ("FuzzHL7", ["HL7", "JSONQuery", "EdgeCore"]),
        ("FuzzYAML", ["YAML"]),
    ]
    // SwiftPM links `main` to `<Target>_main`; the driver hands that over to libFuzzer.
    package.targets.append(.target(name: "LibFuzzerDriver", path: "Fuzz/LibFuzzerDriver"))
    for target in fuzzTargets {
        package.targets.append(
            .executableTarget(
                name: target.name, dependencies: target.dependencies + ["LibFuzzerDriver"], path: "Fuzz/\(target.name)",
                swiftSettings: strict))
    }
}
