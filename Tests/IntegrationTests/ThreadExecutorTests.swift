@testable import BerthCLI
import Foundation
import Testing

/// A reconcile runs on the main thread through `ThreadExecutor`: its child tasks and the actors
/// it calls must run there too, or the first of them would wait for the concurrency pool.
@Suite struct ThreadExecutorTests {
    final class Record: @unchecked Sendable {
        private let lock = NSLock()
        private var threads: [pthread_t] = []
        private var finished = false
        func note() { lock.withLock { threads.append(pthread_self()) } }
        func finish() { lock.withLock { finished = true } }
        var done: Bool { lock.withLock { finished } }
        var seen: [pthread_t] { lock.withLock { threads } }
    }

    actor Counter {
        var value = 0
        func bump(_ record: Record) -> Int { record.note(); value += 1; return value }
    }

    @Test func aTaskTreeRunsOnTheThreadThatRunsTheExecutor() {
        let executor = ThreadExecutor()
        let record = Record()
        let counter = Counter()
        Task(executorPreference: executor) {
            record.note()
            async let child: Void = record.note()
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<3 { group.addTask { record.note() } }
            }
            _ = await counter.bump(record)
            // A suspension that resumes from another thread comes back here as well.
            try? await Task.sleep(for: .milliseconds(5))
            record.note()
            await child
            record.finish()
        }
        let me = pthread_self()
        while !record.done { executor.runOnce() }
        #expect(record.seen.count == 7)
        #expect(record.seen.allSatisfy { pthread_equal($0, me) != 0 }, "\(record.seen) vs \(me)")
    }
}
