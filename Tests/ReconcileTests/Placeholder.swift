import Testing
@testable import Reconcile

// Replaced by the module's real tests in its issue.
@Test func moduleLinks() {
    #expect(String(describing: ReconcileModule.self) == "ReconcileModule")
}
