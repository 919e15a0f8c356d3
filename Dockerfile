# Berth's own image. Both stages are Debian 12 (bookworm): the libc that links Berth is the
# libc that runs it. Base images are made locally (no Docker Hub): run ops/base-images first.
#
#   ops/base-images && docker build -t berth:dev .
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock berth:dev doctor

FROM berth.local/swift:6.3.1-bookworm AS build
WORKDIR /src
# Packages resolve through the git mirrors baked into the Swift image (see ops/base-images);
# the manifest and the lock file come first so the resolution is cached across source edits.
COPY Package.swift Package.resolved* ./
RUN swift package resolve
COPY Sources ./Sources
# Package.swift declares the test targets too, so their folders must exist to build.
COPY Tests ./Tests
# The Swift runtime (stdlib, Foundation, Dispatch) goes into the binaries, so the runtime stage
# needs only Debian's C libraries. `berth serve` execs berth-serve, installed beside berth.
# ops/build-berth has the link flags (and the check that berth stays free of CoreFoundation).
COPY ops/build-berth ./ops/
RUN berth="$(ops/build-berth)" \
 && for b in berth berth-serve; do install -D -m 0755 "$(dirname "$berth")/$b" "/out/$b" && strip "/out/$b"; done

FROM berth.local/debian:bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcurl4 libyaml-0-2 libgit2-1.5 zlib1g libsqlite3-0 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/berth /out/berth-serve /usr/local/bin/
# Fail the build, not the first run, when a shared library the binary needs is missing. libcurl
# and libgit2 are not linked but opened with dlopen on first use (start-up skips loading them and
# the ~35 libraries they need), so `ldd berth` no longer lists them: they are looked up by the
# soname Berth opens (libgit2's follows the libgit2-dev it was built with) and ldd'd themselves.
RUN missing=$(for lib in libcurl.so.4 libgit2.so.1.5; do \
      ldconfig -p | awk -v l="$lib" '$1 == l { f = 1 } END { exit !f }' || echo "$lib (opened with dlopen) => not found"; done); \
    dlopened=$(ldconfig -p | awk '$1 == "libcurl.so.4" || $1 == "libgit2.so.1.5" { print $NF }'); \
    missing="$missing$(ldd /usr/local/bin/berth /usr/local/bin/berth-serve $dlopened | grep 'not found' || true)"; \
    if [ -n "$missing" ]; then echo "missing libraries:"; echo "$missing"; exit 1; fi
ENV BERTH_STATE_DIR=/var/lib/berth
VOLUME /var/lib/berth
LABEL org.opencontainers.image.title="berth" \
      org.opencontainers.image.description="Keep Docker hosts in the state a git repository describes"
ENTRYPOINT ["/usr/local/bin/berth"]
CMD ["--help"]
