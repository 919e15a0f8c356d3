# escape=`
FROM busybox
RUN echo a `
    b
ONBUILD RUN echo x
SHELL ["sh", "-c"]
STOPSIGNAL SIGTERM
