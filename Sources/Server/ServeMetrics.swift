import Prometheus
import Store

/// Prometheus metrics of the sync loop, exposed on `/metrics`.
public struct ServeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    static let buckets: [Duration] = [.milliseconds(100), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5),
                                      .seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300)]

    func recordSync(app: String, outcome: SyncRun.Outcome, duration: Duration, drift: Int, at time: Double) {
        registry.makeCounter(descriptor: .init(namespace: "berth", metricName: "syncs", unitName: "total",
                                               helpText: "Sync runs by app and outcome"),
                             labels: [("app", app), ("outcome", outcome.rawValue)]).increment()
        registry.makeDurationHistogram(descriptor: .init(namespace: "berth", metricName: "sync_duration", unitName: "seconds",
                                                         helpText: "Time one sync run took"),
                                       labels: [("app", app)], buckets: Self.buckets).record(duration)
        registry.makeGauge(descriptor: .init(namespace: "berth", metricName: "drift", unitName: "actions",
                                             helpText: "Changes the last plan found between the repo and the host"),
                           labels: [("app", app)]).set(to: Double(drift))
        if outcome != .failed {
            registry.makeGauge(descriptor: .init(namespace: "berth", metricName: "last_success", unitName: "timestamp_seconds",
                                                 helpText: "Unix time of the last successful sync"),
                               labels: [("app", app)]).set(to: time)
        }
    }

    /// Build and push figures of a sync that built images.
    func recordBuild(app: String, _ build: ReleaseBuilder.Output) {
        registry.makeDurationHistogram(descriptor: .init(namespace: "berth", metricName: "build_duration", unitName: "seconds",
                                                         helpText: "Time the build step of a sync took (builds and reuses)"),
                                       labels: [("app", app)], buckets: Self.buckets).record(Self.duration(build.buildSeconds))
        registry.makeCounter(descriptor: .init(namespace: "berth", metricName: "images_built", unitName: "total",
                                               helpText: "Images built (not reused by build key)"),
                             labels: [("app", app)]).increment(by: Int64(build.built))
        registry.makeCounter(descriptor: .init(namespace: "berth", metricName: "images_reused", unitName: "total",
                                               helpText: "Builds skipped because an image with the same build key was on the host"),
                             labels: [("app", app)]).increment(by: Int64(build.reused))
        registry.makeDurationHistogram(descriptor: .init(namespace: "berth", metricName: "push_duration", unitName: "seconds",
                                                         helpText: "Time the push step of a sync took"),
                                       labels: [("app", app)], buckets: Self.buckets).record(Self.duration(build.pushSeconds))
        registry.makeCounter(descriptor: .init(namespace: "berth", metricName: "push_uploaded", unitName: "bytes_total",
                                               helpText: "Bytes uploaded to the registry by pushes"),
                             labels: [("app", app)]).increment(by: build.bytesUploaded)
        registry.makeCounter(descriptor: .init(namespace: "berth", metricName: "push_blobs", unitName: "total",
                                               helpText: "Blobs of pushed images by what the push did with them"),
                             labels: [("app", app), ("action", "uploaded")]).increment(by: Int64(build.blobsUploaded))
        registry.makeCounter(descriptor: .init(namespace: "berth", metricName: "push_blobs", unitName: "total",
                                               helpText: "Blobs of pushed images by what the push did with them"),
                             labels: [("app", app), ("action", "skipped")]).increment(by: Int64(build.blobsSkipped))
        registry.makeCounter(descriptor: .init(namespace: "berth", metricName: "push_blobs", unitName: "total",
                                               helpText: "Blobs of pushed images by what the push did with them"),
                             labels: [("app", app), ("action", "mounted")]).increment(by: Int64(build.blobsMounted))
    }

    static func duration(_ seconds: Double) -> Duration { .nanoseconds(Int64((seconds * 1e9).rounded())) }

    func setDegraded(app: String, _ degraded: Bool) {
        registry.makeGauge(descriptor: .init(namespace: "berth", metricName: "app_degraded", unitName: "bool",
                                             helpText: "1 while the app's last sync failed"),
                           labels: [("app", app)]).set(to: degraded ? 1 : 0)
    }

    public func text() -> String { registry.emitToString() }
}
