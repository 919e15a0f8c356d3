import FoundationEssentials
import Glibc
import Platform

/// A bounded queue of byte chunks between a curl thread and Swift tasks. Either side may block
/// (curl threads) or await (tasks). The bound gives back-pressure, so a multi-GB body moves
/// through a few MB of memory.
final class ByteChannel: @unchecked Sendable {
    private let cond = Condition()
    private var chunks: [Data] = []
    private var headIndex = 0
    private var buffered = 0
    private let capacity: Int
    /// The producer is done (failure says how).
    private var finished = false
    private var failure: (any Error)?
    /// The consumer is gone or the transfer was aborted; producers stop.
    private var closed = false
    private var takeWaiter: CheckedContinuation<Void, Never>?
    private var putWaiter: CheckedContinuation<Void, Never>?
    /// Called once when the channel is cancelled (aborts the transfer behind it).
    private var onCancel: (@Sendable () -> Void)?

    init(capacity: Int, onCancel: (@Sendable () -> Void)? = nil) {
        self.capacity = capacity
        self.onCancel = onCancel
    }

    private var isEmpty: Bool { headIndex == chunks.count }

    private func popLocked() -> Data {
        let d = chunks[headIndex]
        chunks[headIndex] = Data()
        headIndex += 1
        if headIndex > 64 && headIndex * 2 > chunks.count {
            chunks.removeFirst(headIndex)
            headIndex = 0
        }
        buffered -= d.count
        return d
    }

    /// Wakes everyone waiting; call with the lock held, resume the returned waiters after unlock.
    private func wakeLocked() -> [CheckedContinuation<Void, Never>] {
        cond.broadcast()
        let w = [takeWaiter, putWaiter].compactMap { $0 }
        takeWaiter = nil
        putWaiter = nil
        return w
    }

    // MARK: producer

    /// Blocks the calling thread while the buffer is full. Returns false once the channel is closed.
    func putBlocking(_ data: Data) -> Bool {
        cond.lock()
        while buffered >= capacity && !closed { cond.wait() }
        if closed || finished {
            cond.unlock()
            return false
        }
        chunks.append(data)
        buffered += data.count
        let w = wakeLocked()
        cond.unlock()
        w.forEach { $0.resume() }
        return true
    }

    private enum Put { case done(Bool), wait }

    private func tryPut(_ data: Data) -> Put {
        cond.lock()
        if closed || finished {
            cond.unlock()
            return .done(false)
        }
        guard buffered < capacity else {
            cond.unlock()
            return .wait
        }
        chunks.append(data)
        buffered += data.count
        let w = wakeLocked()
        cond.unlock()
        w.forEach { $0.resume() }
        return .done(true)
    }

    private func parkPutter(_ c: CheckedContinuation<Void, Never>) {
        cond.lock()
        if closed || finished || buffered < capacity {
            cond.unlock()
            c.resume()
        } else {
            putWaiter = c
            cond.unlock()
        }
    }

    /// Awaits while the buffer is full. Returns false once the channel is closed.
    func put(_ data: Data) async -> Bool {
        while true {
            if case .done(let ok) = tryPut(data) { return ok }
            await withCheckedContinuation { parkPutter($0) }
        }
    }

    /// The producer is done; `error` fails the consumer after it drained what was buffered.
    func finish(error: (any Error)? = nil) {
        cond.lock()
        if !finished {
            finished = true
            failure = error
        }
        let w = wakeLocked()
        cond.unlock()
        w.forEach { $0.resume() }
    }

    // MARK: consumer

    private enum Take {
        case chunk(Data), end, failed(any Error), wait
    }

    private func tryTakeLocked() -> Take {
        if !isEmpty && !closed { return .chunk(popLocked()) }
        if closed { return .failed(failure ?? CancellationError()) }
        if finished {
            if let failure { return .failed(failure) }
            return .end
        }
        return .wait
    }

    private func tryTake() -> Take {
        cond.lock()
        let r = tryTakeLocked()
        let w: [CheckedContinuation<Void, Never>]
        if case .chunk = r { w = wakeLocked() } else { w = [] }
        cond.unlock()
        w.forEach { $0.resume() }
        return r
    }

    private func parkTaker(_ c: CheckedContinuation<Void, Never>) {
        cond.lock()
        if !isEmpty || finished || closed {
            cond.unlock()
            c.resume()
        } else {
            takeWaiter = c
            cond.unlock()
        }
    }

    /// The next chunk, or nil at the end. Cancelling the awaiting task cancels the channel.
    func take() async throws -> Data? {
        while true {
            switch tryTake() {
            case .chunk(let d): return d
            case .end: return nil
            case .failed(let e): throw e
            case .wait: break
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { parkTaker($0) }
            } onCancel: {
                self.cancel(CancellationError())
            }
        }
    }

    /// Blocks the calling thread until a chunk arrives; nil at the end.
    func takeBlocking() throws -> Data? {
        cond.lock()
        while isEmpty && !finished && !closed { cond.wait() }
        let r = tryTakeLocked()
        let w: [CheckedContinuation<Void, Never>]
        if case .chunk = r { w = wakeLocked() } else { w = [] }
        cond.unlock()
        w.forEach { $0.resume() }
        switch r {
        case .chunk(let d): return d
        case .end, .wait: return nil
        case .failed(let e): throw e
        }
    }

    /// Stops both sides: producers get false, consumers get `error` (unless already finished
    /// cleanly and drained).
    func cancel(_ error: any Error) {
        cond.lock()
        if closed {
            cond.unlock()
            return
        }
        closed = true
        if failure == nil { failure = error }
        finished = true
        chunks = []
        headIndex = 0
        buffered = 0
        let hook = onCancel
        onCancel = nil
        let w = wakeLocked()
        cond.unlock()
        w.forEach { $0.resume() }
        hook?()
    }

    var isClosed: Bool { cond.withLock { closed } }
}

/// The body of an `HTTPStreamingResponse`: an async sequence of chunks as they arrive.
/// Iterate it once. Dropping every copy of it, or cancelling the iterating task, aborts the
/// transfer.
public struct HTTPBodyStream: AsyncSequence, Sendable {
    public typealias Element = Data

    final class Token: Sendable {
        let channel: ByteChannel
        init(channel: ByteChannel) { self.channel = channel }
        deinit { channel.cancel(CancellationError()) }
    }

    let token: Token
    let target: String

    init(channel: ByteChannel, target: String) {
        self.token = Token(channel: channel)
        self.target = target
    }

    /// Aborts the transfer; iteration then throws.
    public func cancel() { token.channel.cancel(CancellationError()) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let token: Token
        public mutating func next() async throws -> Data? {
            try await token.channel.take()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(token: token) }
}
