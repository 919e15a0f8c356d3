import CGit2
import Testing

@testable import GitSource

#if canImport(Glibc)
    import Glibc
#endif

/// Berth opens libgit2 with dlopen on first use instead of linking it (Sources/CGit2): loading
/// must work, be idempotent, open the libgit2 of the headers, and answer through the forwarders.
@Suite struct GitLoadTests {
    @Test func loadingIsIdempotent() throws {
        try GitLibrary.load()
        try GitLibrary.load()
        var error = [CChar](repeating: 0, count: 64)
        #expect(berth_git2_load(&error, error.count) == 0)
        #expect(berth_git2_load(nil, 0) == 0)
        #expect(error.allSatisfy { $0 == 0 }, "a successful load writes no error")
        #expect(GitLibrary.loadError == nil)
    }

    @Test func loadsTheLibgit2OfTheHeaders() throws {
        try GitLibrary.load()
        #expect(GitLibrary.soname == "libgit2.so.\(LIBGIT2_VER_MAJOR).\(LIBGIT2_VER_MINOR)")
        // RTLD_NOLOAD only finds a library already mapped: the loader opened this very soname.
        let handle = dlopen(GitLibrary.soname, RTLD_NOW | RTLD_NOLOAD)
        #expect(handle != nil)
        if let handle { dlclose(handle) }
        #expect(GitLibrary.version == LIBGIT2_VERSION)
    }

    @Test func forwardersReachLibgit2() throws {
        try LibGit2.initialize()
        let hex = "0123456789abcdef0123456789abcdef01234567"
        var oid = git_oid()
        #expect(git_oid_fromstrn(&oid, hex, hex.utf8.count) == 0)
        #expect(Repository.hex(oid) == hex)
        // An error set by libgit2 itself is read back through git_error_last.
        #expect(git_oid_fromstrn(&oid, "xyz", 3) < 0)
        #expect(LibGit2.lastError().message.contains("unable to parse OID"))
        // A variadic call through the typed wrapper.
        #expect(berth_git_set_owner_validation(1) == 0)
    }

    @Test func missingLibraryErrorSaysWhatToInstall() {
        let error = GitLibrary.error(loading: "libgit2.so.1.5: cannot open shared object file: No such file or directory")
        #expect(error.kind == .library)
        #expect(error.description.contains("cannot load libgit2: libgit2.so.1.5: cannot open shared object file"))
        #expect(error.description.contains("apt-get install \(GitLibrary.package)"))
    }
}
