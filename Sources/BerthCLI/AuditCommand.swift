import ArgumentParser
import Build
import Engine
import FoundationEssentials
import Platform
import Glibc
import Logging

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check that every ELF file of an image finds its loader, libraries and libc versions in that image.",
        discussion: """
        Exports the image from the engine (as `docker save` does) and reads every layer in \
        order, applying whiteouts, without unpacking anything on this host. For each ELF \
        executable and shared library of the final filesystem it checks what the dynamic \
        loader will need when the container starts:

          - the interpreter (PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2) exists;
          - every DT_NEEDED library is found by the loader's search order: DT_RPATH, \
        LD_LIBRARY_PATH from the image's Env, DT_RUNPATH, /etc/ld.so.conf, the default \
        directories (musl: /etc/ld-musl-<arch>.path or /lib:/usr/local/lib:/usr/lib);
          - a glibc binary is not in a musl image, nor the reverse;
          - every needed symbol version (e.g. GLIBC_2.34 of libc.so.6) is defined by the \
        library found, so the image's glibc is new enough.

        Each finding names the file, what is missing and the layer (and build step) that put \
        the file there. Statically linked binaries are fine.

        Speed: when Berth runs on the engine's host with access to its overlay2 layer \
        directories (as root), the layers are read in place: only ELF files are opened past \
        their first 4 bytes. Otherwise the image is streamed from the engine's export. A report \
        is cached by image ID in the state directory (an image never changes): auditing the \
        same image again takes milliseconds (--no-cache audits again).

        Findings are warnings (exit 0) unless --strict (exit 1). Errors (no such image, no \
        engine) exit 1. `berth build` runs the same audit on every image it builds.

        Examples:
          berth audit 127.0.0.1:5000/acme/web:3f2a9c1e0b7d
          berth audit --strict --output json myapp:latest | jq '.images[].findings'
        """)

    @Argument(help: ArgumentHelp("Images to audit (name, name:tag or ID).", valueName: "image"))
    var images: [String]

    @Option(help: "text (findings and a summary) or json.")
    var output: OutputFormat = .text

    @Flag(help: "Exit 1 when any finding is reported.")
    var strict = false

    @Flag(name: .customLong("no-cache"), help: "Audit again even when a report for this image ID is cached.")
    var noCache = false

    @Flag(help: "Always read the image through the engine's export, never from its layer directories.")
    var export = false

    @Option(help: ArgumentHelp("Where reports are cached by image ID (default: $BERTH_STATE_DIR, else /var/lib/berth as root, else ~/.local/state/berth).",
                               valueName: "dir"))
    var stateDir: String?

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("name at least one image") }
    }

    struct JSONOutput: Encodable {
        var ok: Bool
        var images: [AuditReport]
    }

    func run() async throws {
        let logger = Logger(label: "berth.audit")
        let auditor = ImageAuditor(engine: EngineClient(logger: logger), logger: logger,
                                   cacheDirectory: noCache ? nil : StateDirectory.resolve(stateDir), version: BerthVersion.string,
                                   readStorage: !export)
        var reports: [AuditReport] = []
        for image in images {
            reports.append(try await auditor.audit(image))
        }
        let findings = reports.reduce(0) { $0 + $1.findings.count }
        switch output {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(JSONOutput(ok: findings == 0, images: reports))
            File.standardOutput.write(data + Data("\n".utf8))
        case .text:
            File.standardOutput.write(Data((reports.map { $0.text() }.joined(separator: "\n") + "\n").utf8))
        }
        if findings > 0 {
            let what = findings == 1 ? "1 finding" : "\(findings) findings"
            if strict {
                File.standardError.write(Data("berth audit: \(what) (--strict)\n".utf8))
                throw ExitCode(1)
            }
            File.standardError.write(Data("berth audit: warning: \(what); the containers may not start\n".utf8))
        }
    }
}

extension BuildCommand {
    /// The audit after a build: every resulting image, once. Findings print as warnings;
    /// with `strict` they fail the command.
    static func auditImages(_ results: [ServiceBuildResult], strict: Bool, console: Console, logger: Logger) async throws {
        let auditor = ImageAuditor(engine: EngineClient(logger: logger), logger: logger, cacheDirectory: StateDirectory.resolve(nil),
                                   version: BerthVersion.string)
        var seen: Set<String> = []
        var failing: [String] = []
        for result in results where seen.insert(result.imageID).inserted {
            // A fresh build knows the Dockerfile instruction behind each of its layers.
            let report = try await auditor.audit(result.imageID).naming(steps: result.stepInstructions)
            if !result.stepInstructions.isEmpty { auditor.store(report) }
            var named = report
            named.image = result.tags.first ?? result.service
            if report.isClean {
                console.progress(result.service + " | audit: clean (\(report.elfCount) ELF, " + Number.fixed(report.seconds, digits: 1) + "s)")
            } else {
                console.progress(result.service + " | audit: " + (strict ? "FAILED" : "warning"))
                console.progress(named.text())
                failing.append("\(result.service): \(report.findings.count)")
            }
        }
        if strict && !failing.isEmpty {
            throw BuildError(.audit, message: "the libc audit found problems (\(failing.joined(separator: ", ")) findings)",
                             hint: "see the findings above; run without --strict to only warn, or --no-audit to skip")
        }
    }
}
