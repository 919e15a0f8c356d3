# syntax=docker/dockerfile:1
ARG BASE=berth.local/busybox:latest
FROM ${BASE} AS build
ARG VERSION=1
ENV A=b C="d e"
RUN --mount=type=cache,target=/root/.cache echo build ${VERSION} \
    && echo more
COPY --chown=1:1 --from=0 /a /b
RUN <<EOF
echo heredoc
EOF
FROM scratch
COPY --from=build /bin/busybox /bin/
HEALTHCHECK --interval=5s CMD ["/bin/busybox", "true"]
LABEL org.opencontainers.image.title="x" a=b
EXPOSE 80/tcp 53/udp
USER 1000:1000
WORKDIR /app
ENTRYPOINT ["/bin/busybox"]
CMD ["sh", "-c", "echo $HOME"]
