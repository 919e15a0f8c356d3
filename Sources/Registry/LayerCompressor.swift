import CZlib
import Crypto
import Dispatch
import FoundationEssentials
import Platform
import Glibc

/// Where a layer's uncompressed bytes are: a region of a file (a layer inside a `docker save`
/// tar, or a spooled copy), or memory for tiny layers.
public enum LayerInput: Sendable {
    case file(path: String, offset: Int64, length: Int64)
    case data(Data)

    var length: Int64 {
        switch self {
        case .file(_, _, let length): return length
        case .data(let d): return Int64(d.count)
        }
    }
}

/// What compressing a layer produced.
public struct CompressedLayer: Sendable, Hashable {
    /// `sha256:` of the gzip output: the blob digest.
    public var digest: String
    public var size: Int64
    /// `sha256:` of the uncompressed tar: the diff-id.
    public var diffID: String
    public var uncompressedSize: Int64
}

/// Deterministic gzip, pigz-style: the input is cut into fixed-size blocks, each compressed as
/// raw deflate primed with the 32 KiB before it and ended with a sync flush (the last with
/// finish), and the blocks' CRCs are combined. Each block's bytes depend only on the input, so
/// the output and its digest are the same for any number of threads. The gzip header is fixed
/// (no name, mtime 0, OS unknown), as registries dedupe blobs by digest.
public struct LayerCompressor: Sendable {
    public var level: Int32
    public var blockSize: Int
    public var threads: Int

    static let window = 32 << 10

    public init(level: Int32 = 1, blockSize: Int = 1 << 20, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.level = max(0, min(9, level))
        self.blockSize = max(64 << 10, blockSize)
        self.threads = max(1, threads)
    }

    /// Compresses `input` into a new file at `outputPath`, hashing input and output on the way.
    /// Runs on its own threads; the calling task only awaits.
    public func compress(_ input: LayerInput, to outputPath: String) async throws -> CompressedLayer {
        let me = self
        return try await withCheckedThrowingContinuation { c in
            let started = startThread(stackSize: 1 << 20) {
                c.resume(with: Result { try me.compressBlocking(input, to: outputPath) })
            }
            if !started { c.resume(throwing: RegistryError.io("cannot start a thread to compress", outputPath, "pthread_create failed")) }
        }
    }

    /// The same, blocking the calling thread.
    public func compressBlocking(_ input: LayerInput, to outputPath: String) throws -> CompressedLayer {
        let reader = try BlockReader(input)
        defer { reader.close() }
        return try compressBlocking(reader, length: input.length, to: outputPath)
    }

    /// Compresses `length` bytes that arrive through `queue` (filled by another task) as they come.
    func compress(_ queue: StreamBlockQueue, length: Int64, to outputPath: String) async throws -> CompressedLayer {
        let me = self
        return try await withCheckedThrowingContinuation { c in
            let started = startThread {
                let r = Result { try me.compressBlocking(queue, length: length, to: outputPath) }
                // Whatever happened, the producer must not wait for us any longer.
                queue.cancel()
                c.resume(with: r)
            }
            if !started {
                queue.cancel()
                c.resume(throwing: RegistryError.io("cannot start a thread to compress", outputPath, "pthread_create failed"))
            }
        }
    }

    /// Reads blocks in order (so a stream source works), compresses each batch in parallel.
    func compressBlocking(_ reader: any BlockSource, length total: Int64, to outputPath: String) throws -> CompressedLayer {
        let fd = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RegistryError.io("cannot create", outputPath, String(cString: strerror(errno))) }
        defer { Glibc.close(fd) }
        let writer = OrderedWriter(fd: fd, path: outputPath)
        // Stops the writer thread on every path; a second finish returns at once.
        defer { _ = try? writer.finish() }

        let blocks = max(1, Int((total + Int64(blockSize) - 1) / Int64(blockSize)))
        // gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS 255 (unknown).
        writer.submit(input: Data(), output: Data([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]), crc: 0, length: 0)

        let batch = threads * 4
        var first = 0
        while first < blocks {
            let count = min(batch, blocks - first)
            let results = Slots<Result<BlockOutput, any Error>>(count)
            let base = first
            let me = self
            // Read the batch in order (stream sources only go forward), compress it in parallel.
            let chunks = Slots<(Data, Int)>(count)
            for i in 0..<count {
                let index = base + i
                let start = Int64(index) * Int64(blockSize)
                let length = Int(min(Int64(blockSize), total - start))
                let dictLength = index == 0 ? 0 : min(Self.window, Int(start))
                chunks[i] = (try reader.read(at: start - Int64(dictLength), count: dictLength + length), dictLength)
            }
            let work: @Sendable (Int) -> Void = { i in
                results[i] = Result {
                    guard let (chunk, dictLength) = chunks[i] else { throw RegistryError(.compression, "block missing") }
                    return try me.compressBlock(chunk, dictLength: dictLength, isLast: base + i == blocks - 1)
                }
            }
            if threads == 1 {
                for i in 0..<count { work(i) }
            } else {
                DispatchQueue.concurrentPerform(iterations: count, execute: work)
            }
            for i in 0..<count {
                guard let r = results[i] else { throw RegistryError(.compression, "block \(base + i) was not compressed") }
                let out = try r.get()
                try writer.failure.map { throw $0 }
                writer.submit(input: out.input, output: out.output, crc: out.crc, length: out.input.count)
            }
            first += count
        }
        let (crc, isize) = writer.finishCRC()
        var trailer = Data(count: 8)
        trailer[0] = UInt8(truncatingIfNeeded: crc)
        trailer[1] = UInt8(truncatingIfNeeded: crc >> 8)
        trailer[2] = UInt8(truncatingIfNeeded: crc >> 16)
        trailer[3] = UInt8(truncatingIfNeeded: crc >> 24)
        let sz = UInt32(truncatingIfNeeded: isize)
        trailer[4] = UInt8(truncatingIfNeeded: sz)
        trailer[5] = UInt8(truncatingIfNeeded: sz >> 8)
        trailer[6] = UInt8(truncatingIfNeeded: sz >> 16)
        trailer[7] = UInt8(truncatingIfNeeded: sz >> 24)
        writer.submit(input: Data(), output: trailer, crc: 0, length: 0)
        let result = try writer.finish()
        guard result.inputSize == total else {
            throw RegistryError(.badTarball, "layer is \(result.inputSize) bytes, expected \(total)",
                hint: "The tarball is truncated; export the image again")
        }
        return CompressedLayer(digest: result.outputDigest, size: result.outputSize, diffID: result.inputDigest,
            uncompressedSize: result.inputSize)
    }

    struct BlockOutput: Sendable {
        var input: Data
        var output: Data
        var crc: UInt32
    }

    private func compressBlock(_ chunk: Data, dictLength: Int, isLast: Bool) throws -> BlockOutput {
        let length = chunk.count - dictLength

        var stream = z_stream()
        // Raw deflate (negative window bits): the gzip framing is ours.
        guard berth_deflateInit2(&stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK else {
            throw RegistryError(.compression, "deflateInit2 failed")
        }
        defer { deflateEnd(&stream) }
        var output = Data()
        var crc: UInt32 = 0
        try chunk.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.bindMemory(to: Bytef.self).baseAddress, !raw.isEmpty else {
                // An empty layer: only the final empty block.
                try deflateAll(&stream, input: nil, count: 0, flush: Z_FINISH, into: &output)
                return
            }
            if dictLength > 0 {
                guard deflateSetDictionary(&stream, base, uInt(dictLength)) == Z_OK else {
                    throw RegistryError(.compression, "deflateSetDictionary failed")
                }
            }
            let body = base + dictLength
            crc = UInt32(crc32(0, body, uInt(length)))
            try deflateAll(&stream, input: body, count: length, flush: isLast ? Z_FINISH : Z_SYNC_FLUSH, into: &output)
        }
        return BlockOutput(input: dictLength == 0 ? chunk : chunk.subdata(in: dictLength..<chunk.count), output: output, crc: crc)
    }

    private func deflateAll(
        _ stream: inout z_stream, input: UnsafePointer<Bytef>?, count: Int, flush: Int32, into output: inout Data
    ) throws {
        stream.next_in = UnsafeMutablePointer(mutating: input)
        stream.avail_in = uInt(count)
        // Deflate straight into the output's storage: no per-byte copies.
        var produced = 0
        var capacity = Int(deflateBound(&stream, uLong(count))) + 64
        output = Data(count: capacity)
        while true {
            let room = capacity - produced
            let status: Int32 = output.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) -> Int32 in
                stream.next_out = raw.bindMemory(to: Bytef.self).baseAddress.map { $0 + produced }
                stream.avail_out = uInt(room)
                return deflate(&stream, flush)
            }
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw RegistryError(.compression, "deflate failed (\(status))")
            }
            produced += room - Int(stream.avail_out)
            // Done when all input is consumed and deflate had room to spare (flush complete).
            if stream.avail_in == 0 && stream.avail_out > 0 { break }
            capacity += 64 << 10
            output.count = capacity
        }
        output.count = produced
    }
}

/// Results written by concurrent workers, each to its own index, read after they all finish.
final class Slots<T>: @unchecked Sendable {
    // A raw buffer, not an Array: concurrent writers to an Array property would trip Swift's
    // exclusivity checks even at distinct indices.
    private let items: UnsafeMutablePointer<T?>
    private let count: Int
    init(_ count: Int) {
        self.count = count
        items = .allocate(capacity: count)
        items.initialize(repeating: nil, count: count)
    }
    deinit {
        items.deinitialize(count: count)
        items.deallocate()
    }
    subscript(i: Int) -> T? {
        get { items[i] }
        set { items[i] = newValue }
    }
}

/// Where the compressor gets its blocks: `read` calls come in increasing order, each
/// starting at most 32 KiB before the previous one ended.
protocol BlockSource: Sendable {
    func read(at position: Int64, count: Int) throws -> Data
}

/// Layer bytes arriving from a stream: the producer task `put`s chunks (waiting while the
/// buffer is full), the compressor thread reads blocks (waiting while it is empty).
final class StreamBlockQueue: BlockSource, @unchecked Sendable {
    private let cond = Condition()
    // Chunks as they came (no copying into one buffer); `chunksStart` is the layer offset of
    // the first byte of `chunks[head]`.
    private var chunks: [Data] = []
    private var head = 0
    private var chunksStart: Int64 = 0
    private var buffered = 0
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    private var producer: CheckedContinuation<Void, Never>?
    private let capacity: Int

    init(capacity: Int = 16 << 20) { self.capacity = capacity }

    func put(_ d: Data) async {
        while true {
            let wait: Bool = cond.withLock { buffered >= capacity && !cancelled }
            if !wait { break }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                cond.lock()
                if buffered >= capacity && !cancelled {
                    producer = c
                    cond.unlock()
                } else {
                    cond.unlock()
                    c.resume()
                }
            }
        }
        cond.withLock {
            if !cancelled && !d.isEmpty {
                chunks.append(d)
                buffered += d.count
            }
            cond.broadcast()
        }
    }

    /// No more data; with `error`, the reader fails with it.
    func finish(error: (any Error)? = nil) {
        cond.withLock {
            finished = true
            failure = error
            cond.broadcast()
        }
    }

    /// The consumer is gone: drop what comes, release a waiting producer.
    func cancel() {
        let p: CheckedContinuation<Void, Never>? = cond.withLock {
            cancelled = true
            chunks = []
            head = 0
            buffered = 0
            let p = producer
            producer = nil
            cond.broadcast()
            return p
        }
        p?.resume()
    }

    func read(at position: Int64, count: Int) throws -> Data {
        cond.lock()
        while chunksStart + Int64(buffered) < position + Int64(count) && !finished && !cancelled {
            cond.wait()
        }
        guard !cancelled, chunksStart + Int64(buffered) >= position + Int64(count), position >= chunksStart else {
            let e = failure
            cond.unlock()
            throw e ?? RegistryError(.badTarball, "the layer ended early (truncated stream)",
                hint: "The image export was cut short; push again")
        }
        var out = Data(capacity: count)
        var skip = Int(position - chunksStart)
        var i = head
        while out.count < count {
            let c = chunks[i]
            if skip >= c.count {
                skip -= c.count
            } else {
                let from = c.startIndex + skip
                let n = min(c.count - skip, count - out.count)
                out.append(c[from..<(from + n)])
                skip = 0
            }
            i += 1
        }
        // The next read starts at most 32 KiB before this one's end: drop whole chunks before that.
        let keepFrom = position + Int64(count) - Int64(LayerCompressor.window)
        while head < chunks.count && chunksStart + Int64(chunks[head].count) <= keepFrom {
            chunksStart += Int64(chunks[head].count)
            buffered -= chunks[head].count
            chunks[head] = Data()
            head += 1
        }
        if head > 256 {
            chunks.removeFirst(head)
            head = 0
        }
        let p = producer
        producer = nil
        cond.unlock()
        p?.resume()
        return out
    }
}

/// Reads regions of the layer input from any thread.
final class BlockReader: BlockSource, @unchecked Sendable {
    let input: LayerInput
    let fd: Int32
    let path: String

    init(_ input: LayerInput) throws {
        self.input = input
        if case .file(let path, _, _) = input {
            self.path = path
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw RegistryError.io("cannot open", path, String(cString: strerror(errno))) }
        } else {
            path = ""
            fd = -1
        }
    }

    func read(at position: Int64, count: Int) throws -> Data {
        switch input {
        case .data(let d):
            let s = d.startIndex + Int(position)
            return d.subdata(in: s..<(s + count))
        case .file(_, let offset, _):
            var data = Data(count: count)
            var done = 0
            try data.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
                guard let base = raw.baseAddress else { return }
                while done < count {
                    let n = pread(fd, base + done, count - done, off_t(offset + position) + off_t(done))
                    if n < 0 && errno == EINTR { continue }
                    if n < 0 { throw RegistryError.io("cannot read", path, String(cString: strerror(errno))) }
                    if n == 0 {
                        throw RegistryError(.badTarball, "\(path) ends early (truncated)",
                            hint: "The tarball is truncated; export the image again")
                    }
                    done += n
                }
            }
            return data
        }
    }

    func close() { if fd >= 0 { Glibc.close(fd) } }
}

/// Hashes and writes blocks in order on its own thread, so hashing overlaps with compressing
/// the next batch.
final class OrderedWriter: @unchecked Sendable {
    private let cond = Condition()
    private var queue: [(input: Data, output: Data)] = []
    private var queued = 0
    private var done = false
    private var error: (any Error)?
    private var finished = false
    private var inHash = SHA256()
    private var outHash = SHA256()
    private var inSize: Int64 = 0
    private var outSize: Int64 = 0
    private var crc: uLong = 0
    private var isize: Int64 = 0
    let fd: Int32
    let path: String

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
        if !startThread({ [self] in run() }) {
            // Nothing will write: submissions fail, and finish reports it at once.
            error = RegistryError.io("cannot start a thread to write", path, "pthread_create failed")
            finished = true
        }
    }

    var failure: (any Error)? { cond.withLock { error } }

    /// Queues one block; waits while too much is queued (bounded memory).
    func submit(input: Data, output: Data, crc blockCRC: UInt32, length: Int) {
        if length > 0 {
            // The CRC of nothing is 0, so combining onto the initial 0 is right for the first block.
            crc = crc32_combine(crc, uLong(blockCRC), off_t(length))
            isize += Int64(length)
        }
        cond.lock()
        while queued > 64 << 20 && error == nil { cond.wait() }
        queue.append((input, output))
        queued += input.count + output.count
        cond.broadcast()
        cond.unlock()
    }

    func finishCRC() -> (UInt32, Int64) { (UInt32(truncatingIfNeeded: crc), isize) }

    private func run() {
        while true {
            cond.lock()
            while queue.isEmpty && !done { cond.wait() }
            if queue.isEmpty && done {
                finished = true
                cond.broadcast()
                cond.unlock()
                return
            }
            let item = queue.removeFirst()
            cond.unlock()
            if cond.withLock({ error }) == nil {
                inHash.update(data: item.input)
                outHash.update(data: item.output)
                inSize += Int64(item.input.count)
                outSize += Int64(item.output.count)
                do { try writeAll(item.output) } catch { cond.withLock { self.error = error } }
            }
            cond.lock()
            queued -= item.input.count + item.output.count
            cond.broadcast()
            cond.unlock()
        }
    }

    private func writeAll(_ data: Data) throws {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress else { return }
            var done = 0
            while done < raw.count {
                let n = write(fd, base + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw RegistryError.io("cannot write", path, String(cString: strerror(errno))) }
                done += n
            }
        }
    }

    struct Totals {
        var inputDigest: String
        var inputSize: Int64
        var outputDigest: String
        var outputSize: Int64
    }

    func finish() throws -> Totals {
        cond.lock()
        done = true
        cond.broadcast()
        while !finished { cond.wait() }
        let e = error
        cond.unlock()
        if let e { throw e }
        return Totals(inputDigest: Digest.string(inHash.finalize()), inputSize: inSize,
            outputDigest: Digest.string(outHash.finalize()), outputSize: outSize)
    }
}

enum Digest {
    static func string(_ d: SHA256.Digest) -> String {
        "sha256:" + Hex.string(d)
    }
    static func of(_ data: Data) -> String { string(SHA256.hash(data: data)) }
}
