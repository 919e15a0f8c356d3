// Locks, a condition and a plain thread over pthreads. swift-corelibs-foundation has these as
// NSLock, NSCondition and Thread, but any of its classes links CoreFoundation and ICU into the
// binary: ~30,000 more relocations and their initialisers at every start of `berth`, ~1.5 ms.
// The modules under `berth` use FoundationEssentials and these instead.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex, like NSLock: not recursive.
public final class Lock: @unchecked Sendable {
    fileprivate let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func lock() {
        pthread_mutex_lock(mutex)
    }

    public func unlock() {
        pthread_mutex_unlock(mutex)
    }

    public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A lock with a condition variable, like NSCondition: `wait` is called with the lock held.
public final class Condition: @unchecked Sendable {
    private let lockObject = Lock()
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        // CLOCK_MONOTONIC, so that a timed wait is not moved by changes of the wall clock.
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(cond)
        cond.deallocate()
    }

    public func lock() {
        lockObject.lock()
    }

    public func unlock() {
        lockObject.unlock()
    }

    public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        try lockObject.withLock(body)
    }

    public func wait() {
        pthread_cond_wait(cond, lockObject.mutex)
    }

    /// Waits at most `seconds`; false when that time passed without a signal.
    @discardableResult
    public func wait(seconds: Double) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let whole = seconds.rounded(.down)
        var nanoseconds = Int(deadline.tv_nsec) + Int((seconds - whole) * 1_000_000_000)
        deadline.tv_sec += Int(whole) + nanoseconds / 1_000_000_000
        nanoseconds %= 1_000_000_000
        deadline.tv_nsec = nanoseconds
        return pthread_cond_timedwait(cond, lockObject.mutex, &deadline) == 0
    }

    public func signal() {
        pthread_cond_signal(cond)
    }

    public func broadcast() {
        pthread_cond_broadcast(cond)
    }
}

/// Runs `body` on a new detached thread, with a stack of `stackSize` bytes if given (else the
/// default, 8 MiB). False when no thread could be started.
@discardableResult
public func startThread(stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) -> Bool {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    if let stackSize { pthread_attr_setstacksize(&attributes, stackSize) }
    var thread = pthread_t()
    let started = pthread_create(&thread, &attributes, { pointer in
        guard let pointer else { return nil }
        let box = Unmanaged<Box>.fromOpaque(pointer).takeRetainedValue()
        box.body()
        return nil
    }, box)
    if started != 0 {
        Unmanaged<Box>.fromOpaque(box).release()
        return false
    }
    return true
}
