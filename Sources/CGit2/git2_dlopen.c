/* libgit2, opened with dlopen on first use instead of linked. Linking it makes the dynamic
   loader map and relocate libgit2 and the libraries it needs (mbedTLS, libssh2, Kerberos,
   PCRE...; Debian builds them with BIND_NOW) at every start of berth, even for commands that
   never touch git.

   Every libgit2 function Berth calls is defined here under libgit2's own name, with the
   prototype from <git2.h> (so the compiler checks each signature), and forwards through a
   pointer that berth_git2_load resolves with dlsym. All pointers are resolved at load time, so
   a libgit2 lacking one is a load error, not a crash later. A forwarder called before a
   successful load loads the library itself and aborts with a message if it cannot: the Swift
   side calls berth_git2_load first and reports a failure as a GitSourceError.

   The definitions are hidden: the berth executable exports its symbols, and exported ones would
   take the place of libgit2's own functions in libgit2's calls to its public API. */
#include <dlfcn.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>

/* GIT_EXTERN spells out visibility("default"), which a hidden definition may not contradict;
   this turns it into "hidden" for libgit2's headers only (the system headers they include are
   already in, above). */
#pragma GCC visibility push(hidden)
#define visibility(v) visibility("hidden")
#include "shim.h"
#include "lazy_library.h"
#undef visibility

/* The libgit2 the headers belong to: its soname carries major and minor, like the Debian
   runtime package (libgit2-dev 1.5 -> libgit2.so.1.5 in libgit2-1.5). */
#define STRING(x) #x
#define VERSION_STRING(major, minor) STRING(major) "." STRING(minor)
#define SONAME "libgit2.so." VERSION_STRING(LIBGIT2_VER_MAJOR, LIBGIT2_VER_MINOR)
#define PACKAGE "libgit2-" VERSION_STRING(LIBGIT2_VER_MAJOR, LIBGIT2_VER_MINOR)

#define SYMBOLS(X) \
    X(git_blob_free) \
    X(git_blob_lookup) \
    X(git_blob_rawcontent) \
    X(git_blob_rawsize) \
    X(git_buf_dispose) \
    X(git_commit_time) \
    X(git_commit_tree_id) \
    X(git_credential_ssh_key_new) \
    X(git_credential_username_new) \
    X(git_credential_userpass_plaintext_new) \
    X(git_error_clear) \
    X(git_error_last) \
    X(git_fetch_options_init) \
    X(git_libgit2_features) \
    X(git_libgit2_init) \
    X(git_libgit2_opts) \
    X(git_libgit2_version) \
    X(git_object_free) \
    X(git_object_id) \
    X(git_object_lookup_prefix) \
    X(git_object_peel) \
    X(git_object_type) \
    X(git_oid_fmt) \
    X(git_oid_fromstrn) \
    X(git_reference_free) \
    X(git_reference_list) \
    X(git_reference_lookup) \
    X(git_reference_name) \
    X(git_reference_name_to_id) \
    X(git_reference_peel) \
    X(git_remote_create_with_fetchspec) \
    X(git_remote_default_branch) \
    X(git_remote_fetch) \
    X(git_remote_free) \
    X(git_remote_lookup) \
    X(git_remote_set_url) \
    X(git_remote_url) \
    X(git_repository_free) \
    X(git_repository_head) \
    X(git_repository_init) \
    X(git_repository_open_bare) \
    X(git_repository_set_head) \
    X(git_strarray_dispose) \
    X(git_tree_entry_byindex) \
    X(git_tree_entry_filemode) \
    X(git_tree_entry_id) \
    X(git_tree_entry_name) \
    X(git_tree_entrycount) \
    X(git_tree_free) \
    X(git_tree_lookup)

BERTH_LAZY_LIBRARY(berth_git2_load, SONAME, "libgit2", PACKAGE, SYMBOLS)

#define CALL(name) BERTH_LAZY_CALL(name)

void git_blob_free(git_blob *blob) { CALL(git_blob_free)(blob); }
int git_blob_lookup(git_blob **blob, git_repository *repo, const git_oid *id) {
    return CALL(git_blob_lookup)(blob, repo, id);
}
const void *git_blob_rawcontent(const git_blob *blob) { return CALL(git_blob_rawcontent)(blob); }
git_object_size_t git_blob_rawsize(const git_blob *blob) { return CALL(git_blob_rawsize)(blob); }
void git_buf_dispose(git_buf *buffer) { CALL(git_buf_dispose)(buffer); }
git_time_t git_commit_time(const git_commit *commit) { return CALL(git_commit_time)(commit); }
const git_oid *git_commit_tree_id(const git_commit *commit) {
    return CALL(git_commit_tree_id)(commit);
}
int git_credential_ssh_key_new(git_credential **out, const char *username, const char *publickey,
                               const char *privatekey, const char *passphrase) {
    return CALL(git_credential_ssh_key_new)(out, username, publickey, privatekey, passphrase);
}
int git_credential_username_new(git_credential **out, const char *username) {
    return CALL(git_credential_username_new)(out, username);
}
int git_credential_userpass_plaintext_new(git_credential **out, const char *username, const char *password) {
    return CALL(git_credential_userpass_plaintext_new)(out, username, password);
}
void git_error_clear(void) { CALL(git_error_clear)(); }
const git_error *git_error_last(void) { return CALL(git_error_last)(); }
int git_fetch_options_init(git_fetch_options *opts, unsigned int version) {
    return CALL(git_fetch_options_init)(opts, version);
}
int git_libgit2_features(void) { return CALL(git_libgit2_features)(); }
int git_libgit2_init(void) { return CALL(git_libgit2_init)(); }
int git_libgit2_version(int *major, int *minor, int *rev) {
    return CALL(git_libgit2_version)(major, minor, rev);
}
void git_object_free(git_object *object) { CALL(git_object_free)(object); }
const git_oid *git_object_id(const git_object *obj) { return CALL(git_object_id)(obj); }
int git_object_lookup_prefix(git_object **object_out, git_repository *repo, const git_oid *id,
                             size_t len, git_object_t type) {
    return CALL(git_object_lookup_prefix)(object_out, repo, id, len, type);
}
int git_object_peel(git_object **peeled, const git_object *object, git_object_t target_type) {
    return CALL(git_object_peel)(peeled, object, target_type);
}
git_object_t git_object_type(const git_object *obj) { return CALL(git_object_type)(obj); }
int git_oid_fmt(char *out, const git_oid *id) { return CALL(git_oid_fmt)(out, id); }
int git_oid_fromstrn(git_oid *out, const char *str, size_t length) {
    return CALL(git_oid_fromstrn)(out, str, length);
}
void git_reference_free(git_reference *ref) { CALL(git_reference_free)(ref); }
int git_reference_list(git_strarray *array, git_repository *repo) {
    return CALL(git_reference_list)(array, repo);
}
int git_reference_lookup(git_reference **out, git_repository *repo, const char *name) {
    return CALL(git_reference_lookup)(out, repo, name);
}
const char *git_reference_name(const git_reference *ref) { return CALL(git_reference_name)(ref); }
int git_reference_name_to_id(git_oid *out, git_repository *repo, const char *name) {
    return CALL(git_reference_name_to_id)(out, repo, name);
}
int git_reference_peel(git_object **out, const git_reference *ref, git_object_t type) {
    return CALL(git_reference_peel)(out, ref, type);
}
int git_remote_create_with_fetchspec(git_remote **out, git_repository *repo, const char *name,
                                     const char *url, const char *fetch) {
    return CALL(git_remote_create_with_fetchspec)(out, repo, name, url, fetch);
}
int git_remote_default_branch(git_buf *out, git_remote *remote) {
    return CALL(git_remote_default_branch)(out, remote);
}
int git_remote_fetch(git_remote *remote, const git_strarray *refspecs, const git_fetch_options *opts,
                     const char *reflog_message) {
    return CALL(git_remote_fetch)(remote, refspecs, opts, reflog_message);
}
void git_remote_free(git_remote *remote) { CALL(git_remote_free)(remote); }
int git_remote_lookup(git_remote **out, git_repository *repo, const char *name) {
    return CALL(git_remote_lookup)(out, repo, name);
}
int git_remote_set_url(git_repository *repo, const char *remote, const char *url) {
    return CALL(git_remote_set_url)(repo, remote, url);
}
const char *git_remote_url(const git_remote *remote) { return CALL(git_remote_url)(remote); }
void git_repository_free(git_repository *repo) { CALL(git_repository_free)(repo); }
int git_repository_head(git_reference **out, git_repository *repo) {
    return CALL(git_repository_head)(out, repo);
}
int git_repository_init(git_repository **out, const char *path, unsigned is_bare) {
    return CALL(git_repository_init)(out, path, is_bare);
}
int git_repository_open_bare(git_repository **out, const char *bare_path) {
    return CALL(git_repository_open_bare)(out, bare_path);
}
int git_repository_set_head(git_repository *repo, const char *refname) {
    return CALL(git_repository_set_head)(repo, refname);
}
void git_strarray_dispose(git_strarray *array) { CALL(git_strarray_dispose)(array); }
const git_tree_entry *git_tree_entry_byindex(const git_tree *tree, size_t idx) {
    return CALL(git_tree_entry_byindex)(tree, idx);
}
git_filemode_t git_tree_entry_filemode(const git_tree_entry *entry) {
    return CALL(git_tree_entry_filemode)(entry);
}
const git_oid *git_tree_entry_id(const git_tree_entry *entry) {
    return CALL(git_tree_entry_id)(entry);
}
const char *git_tree_entry_name(const git_tree_entry *entry) {
    return CALL(git_tree_entry_name)(entry);
}
size_t git_tree_entrycount(const git_tree *tree) { return CALL(git_tree_entrycount)(tree); }
void git_tree_free(git_tree *tree) { CALL(git_tree_free)(tree); }
int git_tree_lookup(git_tree **out, git_repository *repo, const git_oid *id) {
    return CALL(git_tree_lookup)(out, repo, id);
}

/* The wrappers of shim.h call the variadic git_libgit2_opts through its own prototype. */
int berth_git_set_ssl_cert_locations(const char *file, const char *path) {
    return CALL(git_libgit2_opts)(GIT_OPT_SET_SSL_CERT_LOCATIONS, file, path);
}
int berth_git_set_owner_validation(int enabled) {
    return CALL(git_libgit2_opts)(GIT_OPT_SET_OWNER_VALIDATION, enabled);
}

#pragma GCC visibility pop
