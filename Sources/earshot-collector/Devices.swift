import ArgumentParser
import EarshotCollector
import Foundation

extension Collector {
    /// `earshot-collector devices add|list|revoke`: the devices allowed to upload.
    struct Devices: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage device tokens.", subcommands: [Add.self, List.self, Revoke.self, Group.self])

        struct Group: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Put devices in a rollout group (or take them out with --none).")
            @Argument(help: "The group (letters, digits, '-', '_', '.').") var group: String?
            @Option(name: .customLong("device"), help: "A device's name (repeat for several).") var devices: [String] = []
            @Flag(help: "Take the devices out of any group.") var none = false
            @OptionGroup var database: DatabaseOptions

            func validate() throws {
                guard !devices.isEmpty else { throw ValidationError("name at least one --device.") }
                guard none != (group != nil) else { throw ValidationError("give a group, or --none.") }
            }

            func run() async throws {
                let missing = try await database.using { store throws(CollectorError) in
                    var missing: [String] = []
                    for name in devices where !(try await store.setGroup(device: name, group: none ? nil : group)) { missing.append(name) }
                    return missing
                }
                guard missing.isEmpty else { throw fail("no device is named \(missing.joined(separator: ", "))", .usage) }
            }
        }

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Register a device; prints its bearer token, alone on the last line (it is shown only once).")
            @Argument(help: "The device's name (letters, digits, '-', '_', '.').") var name: String
            @OptionGroup var database: DatabaseOptions
            @Option(help: "The device's spool id, if known (otherwise bound on its first upload).") var deviceId: String?
            @Option(help: "A site tag, for cohorts.") var site: String?
            @Option(help: "A hardware tag, for cohorts.") var hardware: String?
            @Option(help: "The rollout group it belongs to (earshot-collector rollout start --group).") var group: String?

            func run() async throws {
                let token = DeviceToken.generate()
                _ = try await database.using(status: { $0.status == 409 || $0.status == 2 ? .usage : .unavailable }) { store throws(CollectorError) in
                    let entry = try await store.addDevice(name: name, tokenHash: DeviceToken.hash(token), deviceID: deviceId, site: site, hardware: hardware)
                    if let group { _ = try await store.setGroup(device: name, group: group) }
                    return entry
                }
                print("device \(name) added; its token (store it on the device as EARSHOT_TOKEN; it is not shown again):")
                print(token)
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List devices with their record counts.")
            @OptionGroup var database: DatabaseOptions
            @Flag(help: "One JSON array on stdout.") var json = false

            func run() async throws {
                let devices = try await database.using { store throws(CollectorError) in try await store.devices() }
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys]
                    print(String(decoding: try encoder.encode(devices), as: UTF8.self))
                    return
                }
                print("NAME                 DEVICE ID                              RECORDS  DUPLICATES  SKIPPED  LAST SEEN             STATE")
                for d in devices {
                    let seen = d.lastSeen.map { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: $0)) } ?? "never"
                    print(d.name.padding(toLength: 20, withPad: " ", startingAt: 0), (d.deviceID ?? "(not yet bound)").padding(toLength: 38, withPad: " ", startingAt: 0),
                          String(d.records).leftPadded(7), String(d.duplicates).leftPadded(11), String(d.skipped).leftPadded(8), "",
                          seen.padding(toLength: 21, withPad: " ", startingAt: 0), d.revokedAt == nil ? "active" : "revoked")
                }
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Refuse a device's uploads from now on (its records stay).")
            @Argument(help: "The device's name.") var name: String
            @OptionGroup var database: DatabaseOptions

            func run() async throws {
                let found = try await database.using { store throws(CollectorError) in try await store.revokeDevice(name: name) }
                guard found else { throw fail("no device is named \(name)", .usage) }
                print("device \(name) revoked")
            }
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
