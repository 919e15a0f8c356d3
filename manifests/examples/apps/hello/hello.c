/* A tiny HTTP server for the Berth example: answers every request with one line naming the
   host and the request count. `hello --check` is the healthcheck: it asks the running server
   and exits 0 on a 200 (the runtime image has no curl or wget). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int port(void) {
    const char *p = getenv("PORT");
    return p && atoi(p) > 0 ? atoi(p) : 8080;
}

static int check(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port())};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char reply[64] = {0};
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) return 1;
    const char *request = "GET /healthz HTTP/1.0\r\n\r\n";
    if (write(fd, request, strlen(request)) < 0) return 1;
    ssize_t n = read(fd, reply, sizeof reply - 1);
    close(fd);
    return n > 12 && strncmp(reply + 9, "200", 3) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--check") == 0) return check();
    signal(SIGPIPE, SIG_IGN);
    const char *greeting = getenv("GREETING") ? getenv("GREETING") : "hello from Berth";
    char host[64] = "?";
    gethostname(host, sizeof host - 1);

    int server = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port()), .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (server < 0 || bind(server, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(server, 64) != 0) {
        perror("hello: listen");
        return 1;
    }
    printf("hello: listening on :%d\n", port());
    fflush(stdout);
    for (unsigned long count = 1;; count++) {
        int client = accept(server, NULL, NULL);
        if (client < 0) continue;
        char request[1024];
        (void)read(client, request, sizeof request); /* the request itself does not matter */
        char body[256], reply[512];
        int length = snprintf(body, sizeof body, "%s (%s, request %lu)\n", greeting, host, count);
        int total = snprintf(reply, sizeof reply,
                             "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", length, body);
        (void)write(client, reply, (size_t)total);
        close(client);
    }
}
