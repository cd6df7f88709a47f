/// The gateway's release, shown by the status page, `doctor` and `diagnostics`. The Debian
/// recipe's default version (`packaging/deb/build-deb.sh`) follows it.
package enum GatewayVersion {
    package static let current = "0.1.0"
}
