import FoundationEssentials
import Platform
import Glibc

/// A layer of the audited image: position, content digest and the build step that made it.
public struct AuditLayer: Sendable, Codable, Equatable {
    /// 0 is the base layer.
    public var index: Int
    /// `sha256:…` of the uncompressed layer tar.
    public var diffID: String?
    /// The history entry's `created_by` (`COPY file:… in /app`, `RUN …`), when recorded.
    public var createdBy: String?
    /// The image the engine committed for the step that made this layer (`sha256:…`), when the
    /// image was built on this engine (the history's `Id`; `<missing>` otherwise).
    public var stepImage: String?
    /// The Dockerfile instruction behind the layer, when Berth built the image:
    /// `apps/web/Dockerfile:12 (stage runtime): COPY --from=build /out/app /app`.
    public var instruction: String?

    public init(index: Int, diffID: String?, createdBy: String?, stepImage: String? = nil, instruction: String? = nil) {
        self.index = index
        self.diffID = diffID
        self.createdBy = createdBy
        self.stepImage = stepImage
        self.instruction = instruction
    }

    /// `layer 2 (sha256:abcdef012345): apps/web/Dockerfile:9 (stage runtime): COPY --from=build …`,
    /// else the recorded step (`COPY file:… in /app`).
    public var summary: String {
        var s = "layer \(index)"
        if let diffID { s += " (\(diffID.prefix(19)))" }
        if let instruction {
            s += ": " + instruction
        } else if let createdBy {
            s += ": " + Self.step(createdBy)
        }
        return s
    }

    /// The classic builder records `/bin/sh -c #(nop) COPY …`; people wrote `COPY …`.
    static func step(_ createdBy: String) -> String {
        var s = createdBy.trimming(.whitespaces)
        if s.hasPrefix("/bin/sh -c #(nop) ") {
            s = String(s.dropFirst("/bin/sh -c #(nop) ".count)).trimming(.whitespaces)
        } else if s.hasPrefix("/bin/sh -c ") {
            s = "RUN " + s.dropFirst("/bin/sh -c ".count)
        }
        return s.count > 160 ? String(s.prefix(157)) + "..." : s
    }
}

/// One problem the loader would hit when running a file of the image.
public struct AuditFinding: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, Equatable {
        /// PT_INTERP names a loader the image does not have.
        case missingInterpreter = "missing-interpreter"
        /// A glibc binary in a musl image, or the reverse.
        case libcMismatch = "libc-mismatch"
        /// A DT_NEEDED library is found nowhere the loader looks.
        case missingLibrary = "missing-library"
        /// A needed symbol version (`GLIBC_2.34` of `libc.so.6`) is not defined by the library found.
        case missingVersion = "missing-version"
    }

    public var kind: Kind
    /// The file in the image (absolute).
    public var path: String
    /// What is missing: a loader path, a library name, or `libc.so.6 GLIBC_2.99`.
    public var missing: String
    /// One line for people.
    public var message: String
    /// The layer that put `path` there.
    public var layer: AuditLayer?

    public init(kind: Kind, path: String, missing: String, message: String, layer: AuditLayer?) {
        self.kind = kind
        self.path = path
        self.missing = missing
        self.message = message
        self.layer = layer
    }
}

/// A file that looks like ELF but cannot be read; reported, not counted as a finding.
public struct AuditUnreadable: Sendable, Codable, Equatable {
    public var path: String
    public var reason: String
    public var layer: AuditLayer?
}

/// The outcome of auditing one image.
public struct AuditReport: Sendable, Codable, Equatable {
    /// The reference that was asked for.
    public var image: String
    public var imageID: String
    public var architecture: String?
    /// `glibc`, `musl`, `glibc+musl` or `none`.
    public var libc: String
    /// The image's glibc, from the version definitions of its `libc.so.6` (e.g. `2.36`).
    public var glibcVersion: String?
    /// The highest `GLIBC_x.y` any file of the image needs.
    public var highestGlibcNeeded: String?
    /// Regular files in the final filesystem.
    public var filesChecked: Int
    /// ELF executables and shared objects.
    public var elfCount: Int
    /// Of those, statically linked (no interpreter, no libraries).
    public var staticCount: Int
    public var findings: [AuditFinding]
    public var unreadable: [AuditUnreadable]
    public var layers: [AuditLayer]
    /// Bytes of the exported archive read.
    public var bytesRead: UInt64
    public var seconds: Double
    /// How the layers were read: engine storage, export, or a cached report.
    public var source: ImageAuditor.Source? = nil

    public var isClean: Bool { findings.isEmpty }

    /// Applies `change` to every layer the report mentions (the layer list and the copies in
    /// findings and unreadable notes).
    mutating func updateLayers(_ change: (inout AuditLayer) -> Void) {
        for i in layers.indices { change(&layers[i]) }
        for i in findings.indices {
            if var layer = findings[i].layer { change(&layer); findings[i].layer = layer }
        }
        for i in unreadable.indices {
            if var layer = unreadable[i].layer { change(&layer); unreadable[i].layer = layer }
        }
    }

    /// The report with each layer's Dockerfile instruction filled in from a build's
    /// `stepInstructions` (step image short ID → instruction), matched on the layer's step image.
    public func naming(steps: [String: String]) -> AuditReport {
        guard !steps.isEmpty else { return self }
        var out = self
        out.updateLayers { layer in
            guard let image = layer.stepImage else { return }
            let hex = image.hasPrefix("sha256:") ? image.dropFirst(7) : Substring(image)
            if let match = steps.first(where: { !$0.key.isEmpty && hex.hasPrefix($0.key) }) { layer.instruction = match.value }
        }
        return out
    }

    /// Findings and a summary line, for a terminal.
    public func text() -> String {
        var lines: [String] = []
        let shortID = imageID.hasPrefix("sha256:") ? String(imageID.dropFirst(7).prefix(12)) : String(imageID.prefix(12))
        var libcText = libc
        if let glibcVersion { libcText += " " + glibcVersion }
        if let highestGlibcNeeded { libcText += ", files need up to GLIBC_\(highestGlibcNeeded)" }
        lines.append("audit \(image) (\(shortID)): \(libcText)")
        for f in findings {
            lines.append("  \(f.path): \(f.message)")
            if let layer = f.layer { lines.append("    from \(layer.summary)") }
        }
        for u in unreadable {
            lines.append("  note: \(u.path): \(u.reason)")
        }
        let findingsText = findings.count == 1 ? "1 finding" : "\(findings.count) findings"
        lines.append("checked \(filesChecked) files, \(elfCount) ELF (\(staticCount) static), \(findingsText) in "
                     + Number.fixed(seconds, digits: 2) + " s" + (source == .cache ? " (cached)" : ""))
        return lines.joined(separator: "\n")
    }
}
