/*
 * launcher: starts CNI plugins for the control-plane benchmark the way a Go container runtime does, and
 * times them. containerd and podman run a plugin through Go's os/exec, which starts it with
 * clone(CLONE_VM | CLONE_VFORK) and exec: no copy of the runtime's address space. Node's
 * child_process.spawn forks the whole (large) bench process instead, which adds a millisecond or more
 * to every call of every contender; posix_spawn here starts the child the way Go does.
 *
 * The bench starts one launcher per simulated node, inside the node's network namespace, and talks to
 * it over its stdin and stdout in frames of a 4-byte little-endian length and a payload:
 *
 *   request  ID \0 FILE \0 ARGC \0 ARG... \0 ENVC \0 NAME=VALUE... \0 STDIN-BYTES
 *   answer   ID \0 MILLISECONDS \0 STATUS \0 STDOUT-BYTES
 *
 * FILE runs with exactly the arguments (ARG 0 included) and environment given, the stdin bytes on its
 * stdin, its stderr on /dev/null. The time runs from just before the spawn to the moment the child has
 * both exited and closed its stdout, read from CLOCK_MONOTONIC. STATUS is the exit status, 128 + the
 * signal number when it was killed, or -1 (with the reason as the stdout bytes) when it could not be
 * started. Requests are served as they come, concurrently: answers come in the order calls end.
 * The launcher exits when its stdin closes, after the calls under way have ended.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CALLS 1024
#define MAX_FRAME (16u << 20)

struct buf {
    char *data;
    size_t len, cap;
};

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void put(struct buf *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        b->data = realloc(b->data, cap);
        if (!b->data) die("launcher: realloc");
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

struct call {
    int used;
    char id[32];
    pid_t pid;
    int out_fd;          /* the child's stdout, -1 once it reached its end */
    int in_fd;           /* the child's stdin, -1 once everything was written */
    const char *in_data; /* points into `request` */
    size_t in_len, in_done;
    int exited, status;
    struct timespec start;
    struct buf output;
    struct buf request;
};

static struct call calls[MAX_CALLS];
static int sigchld_pipe[2];

static void on_sigchld(int sig) {
    (void)sig;
    int saved = errno;
    ssize_t r = write(sigchld_pipe[1], "x", 1);
    (void)r;
    errno = saved;
}

static double ms_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            die("launcher: writing an answer");
        }
        p += w;
        n -= (size_t)w;
    }
}

static void answer(const char *id, double ms, int status, const char *out, size_t out_len) {
    char head[96];
    int n = snprintf(head, sizeof head, "%s%c%.4f%c%d%c", id, 0, ms, 0, status, 0);
    uint32_t len = (uint32_t)((size_t)n + out_len);
    unsigned char le[4] = {len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, (len >> 24) & 0xff};
    write_all(1, (const char *)le, 4);
    write_all(1, head, (size_t)n);
    if (out_len) write_all(1, out, out_len);
}

static void finish_if_done(struct call *c) {
    if (!c->used || !c->exited || c->out_fd >= 0) return;
    if (c->in_fd >= 0) {
        close(c->in_fd);
        c->in_fd = -1;
    }
    double ms = ms_since(&c->start);
    answer(c->id, ms, c->status, c->output.data, c->output.len);
    free(c->output.data);
    free(c->request.data);
    memset(c, 0, sizeof *c);
}

/* The NUL-terminated field at *pos, or NULL when the payload ends first. */
static const char *field(const struct buf *r, size_t *pos) {
    if (*pos >= r->len) return NULL;
    const char *start = r->data + *pos;
    const char *nul = memchr(start, 0, r->len - *pos);
    if (!nul) return NULL;
    *pos += (size_t)(nul - start) + 1;
    return start;
}

static void start_call(struct buf *request) {
    int slot = -1;
    for (int i = 0; i < MAX_CALLS; i++) {
        if (!calls[i].used) {
            slot = i;
            break;
        }
    }
    size_t pos = 0;
    const char *id = field(request, &pos);
    const char *file = field(request, &pos);
    const char *argc_text = field(request, &pos);
    if (!id || !file || !argc_text || strlen(id) >= sizeof calls[0].id) {
        fprintf(stderr, "launcher: malformed request\n");
        exit(2);
    }
    if (slot < 0) {
        static const char why[] = "launcher: too many calls at once";
        answer(id, 0, -1, why, sizeof why - 1);
        free(request->data);
        return;
    }
    long argc = strtol(argc_text, NULL, 10);
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    for (long i = 0; i < argc; i++) argv[i] = (char *)field(request, &pos);
    const char *envc_text = field(request, &pos);
    long envc = envc_text ? strtol(envc_text, NULL, 10) : -1;
    char **envp = calloc(envc > 0 ? (size_t)envc + 1 : 1, sizeof *envp);
    for (long i = 0; i < envc; i++) envp[i] = (char *)field(request, &pos);
    if (argc < 1 || envc < 0 || !argv[argc - 1] || (envc > 0 && !envp[envc - 1])) {
        fprintf(stderr, "launcher: malformed request %s\n", id);
        exit(2);
    }

    struct call *c = &calls[slot];
    memset(c, 0, sizeof *c);
    c->used = 1;
    snprintf(c->id, sizeof c->id, "%s", id);
    c->request = *request;
    c->in_data = request->data + pos;
    c->in_len = request->len - pos;

    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) die("launcher: pipe2");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

    clock_gettime(CLOCK_MONOTONIC, &c->start);
    int err = posix_spawn(&c->pid, file, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    free(argv);
    free(envp);
    close(in[0]);
    close(out[1]);
    if (err) {
        close(in[1]);
        close(out[0]);
        char why[256];
        int n = snprintf(why, sizeof why, "launcher: cannot run %s: %s", file, strerror(err));
        answer(c->id, ms_since(&c->start), -1, why, (size_t)n);
        free(c->request.data);
        memset(c, 0, sizeof *c);
        return;
    }
    c->out_fd = out[0];
    c->in_fd = in[1];
    fcntl(c->in_fd, F_SETFL, O_NONBLOCK);
    fcntl(c->out_fd, F_SETFL, O_NONBLOCK);
}

static void feed(struct call *c) {
    while (c->in_done < c->in_len) {
        ssize_t w = write(c->in_fd, c->in_data + c->in_done, c->in_len - c->in_done);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            break; /* EPIPE: the child does not read its stdin */
        }
        c->in_done += (size_t)w;
    }
    close(c->in_fd);
    c->in_fd = -1;
}

static void drain(struct call *c) {
    char chunk[65536];
    for (;;) {
        ssize_t r = read(c->out_fd, chunk, sizeof chunk);
        if (r > 0) {
            put(&c->output, chunk, (size_t)r);
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) return;
        close(c->out_fd);
        c->out_fd = -1;
        finish_if_done(c);
        return;
    }
}

static void reap(void) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        for (int i = 0; i < MAX_CALLS; i++) {
            struct call *c = &calls[i];
            if (!c->used || c->pid != pid) continue;
            c->exited = 1;
            c->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            finish_if_done(c);
            break;
        }
    }
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK) < 0) die("launcher: pipe2");
    struct sigaction sa = {.sa_handler = on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP};
    sigaction(SIGCHLD, &sa, NULL);

    struct buf incoming = {0};
    int input_open = 1;
    static struct pollfd fds[2 + 2 * MAX_CALLS];
    static struct call *owners[2 + 2 * MAX_CALLS];
    for (;;) {
        int busy = 0;
        nfds_t n = 0;
        fds[n++] = (struct pollfd){.fd = sigchld_pipe[0], .events = POLLIN};
        if (input_open) fds[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
        for (int i = 0; i < MAX_CALLS; i++) {
            struct call *c = &calls[i];
            if (!c->used) continue;
            busy = 1;
            if (c->out_fd >= 0) {
                owners[n] = c;
                fds[n++] = (struct pollfd){.fd = c->out_fd, .events = POLLIN};
            }
            if (c->in_fd >= 0) {
                owners[n] = c;
                fds[n++] = (struct pollfd){.fd = c->in_fd, .events = POLLOUT};
            }
        }
        if (!input_open && !busy) return 0;
        if (poll(fds, n, -1) < 0) {
            if (errno == EINTR) continue;
            die("launcher: poll");
        }
        for (nfds_t i = 0; i < n; i++) {
            if (!fds[i].revents) continue;
            if (fds[i].fd == sigchld_pipe[0]) {
                char drainbuf[64];
                while (read(sigchld_pipe[0], drainbuf, sizeof drainbuf) > 0) {
                }
                reap();
            } else if (fds[i].fd == 0 && input_open && i < 2) {
                char chunk[65536];
                ssize_t r = read(0, chunk, sizeof chunk);
                if (r < 0 && errno == EINTR) continue;
                if (r <= 0) {
                    input_open = 0;
                    continue;
                }
                put(&incoming, chunk, (size_t)r);
                for (;;) {
                    if (incoming.len < 4) break;
                    const unsigned char *p = (const unsigned char *)incoming.data;
                    uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
                    if (len > MAX_FRAME) {
                        fprintf(stderr, "launcher: a request of %u bytes\n", len);
                        return 2;
                    }
                    if (incoming.len < 4 + (size_t)len) break;
                    struct buf request = {0};
                    put(&request, incoming.data + 4, len);
                    memmove(incoming.data, incoming.data + 4 + len, incoming.len - 4 - len);
                    incoming.len -= 4 + len;
                    start_call(&request);
                }
            } else {
                struct call *c = owners[i];
                if (!c->used) continue;
                if (fds[i].fd == c->out_fd) drain(c);
                else if (fds[i].fd == c->in_fd) feed(c);
            }
        }
    }
}
