import CYAML

/// Collects what libyaml's emitter writes.
private final class OutputBuffer {
    var bytes: [UInt8] = []
}

/// Owns a libyaml emitter.
private final class LibYAMLEmitter {
    let emitter: UnsafeMutablePointer<yaml_emitter_t>
    let output = OutputBuffer()

    init() {
        emitter = .allocate(capacity: 1)
        yaml_emitter_initialize(emitter)
        yaml_emitter_set_unicode(emitter, 1)
        yaml_emitter_set_width(emitter, -1)
        yaml_emitter_set_indent(emitter, 2)
        yaml_emitter_set_output(emitter, { data, buffer, size in
            guard let data, let buffer else { return 0 }
            let out = Unmanaged<OutputBuffer>.fromOpaque(data).takeUnretainedValue()
            out.bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: size))
            return 1
        }, Unmanaged.passUnretained(output).toOpaque())
    }

    deinit {
        yaml_emitter_delete(emitter)
        emitter.deallocate()
    }

    func emit(_ event: inout yaml_event_t) throws(YAMLError) {
        guard yaml_emitter_emit(emitter, &event) == 1 else {
            let problem = emitter.pointee.problem.map { String(cString: $0) } ?? "emitter error"
            throw YAMLError(mark: .none, message: "cannot write YAML: \(problem)")
        }
    }
}

extension YAML {
    /// Serializes documents as YAML text through libyaml's emitter. Block style, 2-space indent;
    /// strings that would read back as another type are quoted.
    public static func emit(_ documents: [YAMLNode]) throws(YAMLError) -> String {
        let e = LibYAMLEmitter()
        var event = yaml_event_t()
        yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING)
        try e.emit(&event)
        for doc in documents {
            // An empty root scalar with an implicit start writes nothing, and the document
            // would be lost on reading back (found by fuzzing): mark its start with `---`.
            var implicitStart: Int32 = 1
            if case .scalar(let text, _) = doc.content, text.isEmpty { implicitStart = 0 }
            yaml_document_start_event_initialize(&event, nil, nil, nil, implicitStart)
            try e.emit(&event)
            try emitNode(doc, e)
            yaml_document_end_event_initialize(&event, 1)
            try e.emit(&event)
        }
        yaml_stream_end_event_initialize(&event)
        try e.emit(&event)
        return String(decoding: e.output.bytes, as: UTF8.self)
    }

    public static func emit(_ document: YAMLNode) throws(YAMLError) -> String {
        try emit([document])
    }

    private static func emitNode(_ node: YAMLNode, _ e: LibYAMLEmitter, quoted: Bool = false) throws(YAMLError) {
        var event = yaml_event_t()
        let customTag = node.tag.flatMap { $0.hasPrefix("tag:yaml.org,2002:") ? nil : $0 }
        switch node.content {
        case .scalar(let text, let style):
            var yamlStyle = YAML_ANY_SCALAR_STYLE
            switch style {
            case .plain:
                // A plain scalar keeps its meaning; a string node whose text would resolve to
                // something else (e.g. "1" or "true") must be quoted.
                break
            case .singleQuoted, .doubleQuoted:
                if case .string = YAMLNode.plainResolves(text) {
                    yamlStyle = YAML_ANY_SCALAR_STYLE
                } else {
                    yamlStyle = YAML_DOUBLE_QUOTED_SCALAR_STYLE
                }
            case .literal, .folded:
                yamlStyle = text.contains("\n") ? YAML_LITERAL_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE
                if case .string = YAMLNode.plainResolves(text) {} else { yamlStyle = YAML_DOUBLE_QUOTED_SCALAR_STYLE }
            }
            if (style == .plain && node.tag == "tag:yaml.org,2002:str" && !isPlainString(text)) || quoted {
                yamlStyle = YAML_DOUBLE_QUOTED_SCALAR_STYLE
            }
            let ok = withOptionalCString(customTag) { tag in
                text.withCString { value in
                    yaml_scalar_event_initialize(&event, nil, tag, value, Int32(text.utf8.count),
                                                 customTag == nil ? 1 : 0, customTag == nil ? 1 : 0, yamlStyle)
                }
            }
            guard ok == 1 else { throw YAMLError(mark: node.mark, message: "cannot write scalar") }
            try e.emit(&event)
        case .sequence(let items):
            _ = withOptionalCString(customTag) { tag in
                yaml_sequence_start_event_initialize(&event, nil, tag, customTag == nil ? 1 : 0,
                                                     items.isEmpty ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE)
            }
            try e.emit(&event)
            for item in items { try emitNode(item, e) }
            yaml_sequence_end_event_initialize(&event)
            try e.emit(&event)
        case .mapping(let pairs):
            _ = withOptionalCString(customTag) { tag in
                yaml_mapping_start_event_initialize(&event, nil, tag, customTag == nil ? 1 : 0,
                                                    pairs.isEmpty ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE)
            }
            try e.emit(&event)
            for pair in pairs {
                // Merge keys were applied when the file was read, so a `<<` key still here is a
                // literal string (e.g. `! <<`); plain, it would read back as a merge key.
                var literalMergeKey = false
                if case .scalar("<<", _) = pair.key.content { literalMergeKey = true }
                try emitNode(pair.key, e, quoted: literalMergeKey)
                try emitNode(pair.value, e)
            }
            yaml_mapping_end_event_initialize(&event)
            try e.emit(&event)
        }
    }

    private static func isPlainString(_ text: String) -> Bool {
        if case .string = YAMLNode.plainResolves(text) { return true }
        return false
    }

    private static func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<UInt8>?) -> R) -> R {
        guard let s else { return body(nil) }
        return s.withCString { body(UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self)) }
    }
}
