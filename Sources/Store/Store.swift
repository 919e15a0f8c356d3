import Foundation
import GRDB

/// One deployed state of an app: the commit and the exact images it ran. Rollback deploys one.
public struct Release: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "release"
    public var id: Int64?
    public var app: String
    public var commit: String
    /// Service → image ID (or digest-pinned reference) it ran, so a rollback runs the same bytes.
    public var images: [String: String]
    public var createdAt: Date

    public init(id: Int64? = nil, app: String, commit: String, images: [String: String], createdAt: Date = Date()) {
        self.id = id
        self.app = app
        self.commit = commit
        self.images = images
        self.createdAt = createdAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One sync attempt of one app, whatever came of it.
public struct SyncRun: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "syncRun"
    public enum Outcome: String, Codable, Sendable, CaseIterable {
        /// The plan had changes and they were applied.
        case deployed
        /// The host already matched the commit; nothing was done.
        case unchanged
        /// Load, plan or apply failed; the last good release keeps running.
        case failed
    }

    public var id: Int64?
    public var app: String
    /// What asked for the sync: poll, webhook, docker-event, api, rollback, startup.
    public var trigger: String
    public var startedAt: Date
    public var finishedAt: Date
    public var commit: String?
    public var outcome: Outcome
    public var error: String?
    /// Actions other than `unchanged` in the plan.
    public var changes: Int
    public var releaseID: Int64?

    public init(id: Int64? = nil, app: String, trigger: String, startedAt: Date, finishedAt: Date = Date(),
                commit: String?, outcome: Outcome, error: String? = nil, changes: Int = 0, releaseID: Int64? = nil) {
        self.id = id
        self.app = app
        self.trigger = trigger
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.commit = commit
        self.outcome = outcome
        self.error = error
        self.changes = changes
        self.releaseID = releaseID
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// Something worth keeping in the app's log: suspend, resume, rollback, self-heal.
public struct Event: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "event"
    public var id: Int64?
    public var app: String
    public var time: Date
    public var kind: String
    public var message: String

    public init(id: Int64? = nil, app: String, time: Date = Date(), kind: String, message: String) {
        self.id = id
        self.app = app
        self.time = time
        self.kind = kind
        self.message = message
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// Operator choices that must survive a restart: suspended, or held at a rolled-back release.
public struct AppControl: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "appControl"
    public var app: String
    public var suspended: Bool
    /// While set, syncs deploy this release instead of the branch head (after a rollback).
    public var pinnedRelease: Int64?

    public init(app: String, suspended: Bool = false, pinnedRelease: Int64? = nil) {
        self.app = app
        self.suspended = suspended
        self.pinnedRelease = pinnedRelease
    }
}

/// Failure to open, migrate, read or write the state database.
public struct StoreError: Error, CustomStringConvertible {
    public var description: String
    init(_ action: String, path: String, _ error: any Error) {
        description = "state database \(path): cannot \(action): \(error). "
            + "Check that BERTH_STATE_DIR is writable and that no other berth serve uses it."
    }
}

/// The serve state in SQLite: releases, sync runs, events and app controls.
///
/// GRDB's async accessors run the blocking SQLite calls on its own dispatch queue, never on
/// Swift's cooperative pool.
public final class Store: Sendable {
    private let queue: DatabaseQueue
    public let path: String

    /// Opens (creating and migrating) the database at `path`; `nil` keeps it in memory.
    public init(path: String?) throws(StoreError) {
        self.path = path ?? ":memory:"
        do {
            var config = Configuration()
            config.busyMode = .timeout(5)
            if let path {
                try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(),
                                                        withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
                queue = try DatabaseQueue(path: path, configuration: config)
            } else {
                queue = try DatabaseQueue(configuration: config)
            }
            try Self.migrator.migrate(queue)
        } catch {
            throw StoreError("open", path: path ?? ":memory:", error)
        }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.create(table: "release") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("app", .text).notNull().indexed()
                t.column("commit", .text).notNull()
                t.column("images", .text).notNull()
                t.column("createdAt", .datetime).notNull()
            }
            try db.create(table: "syncRun") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("app", .text).notNull().indexed()
                t.column("trigger", .text).notNull()
                t.column("startedAt", .datetime).notNull()
                t.column("finishedAt", .datetime).notNull()
                t.column("commit", .text)
                t.column("outcome", .text).notNull()
                t.column("error", .text)
                t.column("changes", .integer).notNull()
                t.column("releaseID", .integer).references("release")
            }
            try db.create(table: "event") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("app", .text).notNull().indexed()
                t.column("time", .datetime).notNull()
                t.column("kind", .text).notNull()
                t.column("message", .text).notNull()
            }
            try db.create(table: "appControl") { t in
                t.primaryKey("app", .text)
                t.column("suspended", .boolean).notNull()
                t.column("pinnedRelease", .integer)
            }
        }
        return m
    }

    private func write<T: Sendable>(_ action: String, _ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do { return try await queue.write(body) } catch { throw StoreError(action, path: path, error) }
    }

    private func read<T: Sendable>(_ action: String, _ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do { return try await queue.read(body) } catch { throw StoreError(action, path: path, error) }
    }

    // MARK: releases

    /// Records a release, or returns the app's latest one when it is the same commit and images
    /// (a resync that changed nothing is not a new release).
    public func recordRelease(_ release: Release) async throws(StoreError) -> Release {
        try await write("record a release") { db in
            if let last = try Release.filter(Column("app") == release.app).order(Column("id").desc).fetchOne(db),
               last.commit == release.commit, last.images == release.images {
                return last
            }
            return try release.inserted(db)
        }
    }

    public func release(id: Int64) async throws(StoreError) -> Release? {
        try await read("read a release") { db in try Release.fetchOne(db, key: id) }
    }

    /// Newest first.
    public func releases(app: String, limit: Int = 50) async throws(StoreError) -> [Release] {
        try await read("read releases") { db in
            try Release.filter(Column("app") == app).order(Column("id").desc).limit(limit).fetchAll(db)
        }
    }

    // MARK: runs

    public func recordRun(_ run: SyncRun) async throws(StoreError) -> SyncRun {
        try await write("record a sync run") { db in try run.inserted(db) }
    }

    /// Newest first.
    public func runs(app: String, limit: Int = 50) async throws(StoreError) -> [SyncRun] {
        try await read("read sync runs") { db in
            try SyncRun.filter(Column("app") == app).order(Column("id").desc).limit(limit).fetchAll(db)
        }
    }

    /// The newest successful run (deployed or unchanged) of the app.
    public func lastSuccess(app: String) async throws(StoreError) -> SyncRun? {
        try await read("read sync runs") { db in
            try SyncRun.filter(Column("app") == app && Column("outcome") != SyncRun.Outcome.failed.rawValue)
                .order(Column("id").desc).fetchOne(db)
        }
    }

    // MARK: events

    public func recordEvent(_ event: Event) async throws(StoreError) {
        _ = try await write("record an event") { db in try event.inserted(db) }
    }

    public func events(app: String, limit: Int = 50) async throws(StoreError) -> [Event] {
        try await read("read events") { db in
            try Event.filter(Column("app") == app).order(Column("id").desc).limit(limit).fetchAll(db)
        }
    }

    // MARK: controls

    public func control(app: String) async throws(StoreError) -> AppControl {
        try await read("read app controls") { db in try AppControl.fetchOne(db, key: app) ?? AppControl(app: app) }
    }

    public func setControl(_ control: AppControl) async throws(StoreError) {
        try await write("save app controls") { db in try control.save(db) }
    }

    // MARK: health

    /// SQLite's `PRAGMA integrity_check`: empty when the database is sound, else its findings.
    /// A full disk or a crash must never leave anything here (the journal rolls back).
    public func integrityCheck() async throws(StoreError) -> [String] {
        try await read("check integrity") { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
        }
    }
}
