import EarshotConfig
import Testing

/// The config file: what it sets, how layers stack (file < environment < flags), and errors that point at the line.
@Suite("config file")
struct ConfigFileTests {
    static let good = """
    # a field box with a cloud fallback
    input:
      device: plughw:1,0
      lossless: false
    models:
      store: /var/lib/earshot/models
      trusted_keys: [/etc/earshot/fleet.pub, /etc/earshot/lab.pub]
    automation:
      level: assist
      confirm_at: 0.4
    cloud:
      url: http://10.0.0.2:8080/v1/audio/transcriptions
      policy: cloud-first
      budget_ms: 800
    metrics:
      port: 9464
    """

    @Test func aGoodFileSetsWhatItSays() throws {
        let s = try ConfigFile.parse(Self.good)
        #expect(s.device == "plughw:1,0" && s.lossless == false && s.store == "/var/lib/earshot/models")
        #expect(s.trustedKeys == ["/etc/earshot/fleet.pub", "/etc/earshot/lab.pub"])
        #expect(s.automation == "assist" && s.confirmAt == 0.4 && s.acceptAt == nil)
        #expect(s.cloudURL == "http://10.0.0.2:8080/v1/audio/transcriptions" && s.policy == "cloud-first" && s.budgetMs == 800)
        #expect(s.metricsPort == 9464 && s.problems().isEmpty)
        #expect(try ConfigFile.parse("") == RuntimeSettings())
    }

    @Test func environmentOverridesTheFileAndFlagsOverrideBoth() throws {
        let file = try ConfigFile.parse(Self.good)
        let (environment, problems) = RuntimeSettings.fromEnvironment(["EARSHOT_POLICY": "local-first", "EARSHOT_BUDGET_MS": "500",
                                                                      "EARSHOT_TRUSTED_KEYS": "/a.pub:/b.pub", "HOME": "/root"])
        #expect(problems.isEmpty)
        var flags = RuntimeSettings()
        flags.budgetMs = 300
        let merged = file.overlaid(by: environment).overlaid(by: flags)
        #expect(merged.policy == "local-first" && merged.budgetMs == 300 && merged.trustedKeys == ["/a.pub", "/b.pub"])
        #expect(merged.device == "plughw:1,0" && merged.automation == "assist")
        let (_, bad) = RuntimeSettings.fromEnvironment(["EARSHOT_QUEUE": "many", "EARSHOT_LOSSLESS": "perhaps"])
        #expect(bad.count == 2 && bad.contains { $0.hasPrefix("EARSHOT_QUEUE:") })
        var out = RuntimeSettings()
        out.acceptAt = 1.5
        #expect(out.problems() == ["automation.accept_at: 1.5 is outside 0.0…1.0"])
    }

    /// Every mistake is reported at once, each with the line and column of the offending key or value.
    @Test func errorsNameTheirLine() {
        let yaml = """
        input:
          device: default
        clod:
          url: http://x
        cloud:
          policy: sometimes
          budget_ms: soon
          url: ftp://example.org/
          tokn: abc
        pipeline:
          queue: 0
        automation:
          level: maybe
        """
        do {
            _ = try ConfigFile.parse(yaml, path: "earshot.yaml")
            Issue.record("a bad file was accepted")
        } catch {
            let byLine = Dictionary(grouping: error.problems, by: \.line).mapValues { $0.map(\.message).joined(separator: " | ") }
            #expect(byLine[3]?.contains("unknown section \"clod\" (did you mean \"cloud\"?)") == true, "\(error)")
            #expect(byLine[6]?.contains("\"sometimes\" is not one of local-first, cloud-first, local-only") == true)
            #expect(byLine[7]?.contains("\"soon\" is not a number") == true)
            #expect(byLine[8]?.contains("not an http(s) URL") == true)
            #expect(byLine[9]?.contains("unknown key \"cloud.tokn\" (did you mean \"token\"?)") == true)
            #expect(byLine[11]?.contains("0 is outside 1…1000") == true)
            #expect(byLine[13]?.contains("\"maybe\" is not one of human-only") == true)
            #expect(error.problems.count == 7)
            #expect(error.description.hasPrefix("earshot.yaml:3:1: unknown section"))
        }
        do { _ = try ConfigFile.parse("cloud:\n  url: http://a\nautomation:\n  level: full\n  level: assist\n"); Issue.record("a key set twice was accepted") } catch {
            #expect(error.problems.map(\.line) == [4] && error.problems.first?.message.contains("\"level\" set twice") == true, "\(error)")
        }
        do { _ = try ConfigFile.parse("input:\n  device: [unclosed\n"); Issue.record("broken YAML accepted") } catch {
            #expect(error.problems.first?.message.hasPrefix("not valid YAML") == true && error.problems.first!.line >= 2)
        }
    }
}
