/*
 * sluice-shim: the CNI plugin binary installed as /opt/cni/bin/sluice.
 *
 * A container runtime runs it like any CNI plugin: CNI_* in the environment, the network config on
 * stdin, the result (or error object) expected on stdout and the exit status 0 or 1. The shim sends
 * all of that to the sluice agent (`sluice daemon`) on its unix socket ($SLUICE_SOCKET, default
 * /run/sluice/sluice.sock), prints the agent's answer and exits with its status. Node never starts.
 *
 * With no agent to talk to, it runs the standalone plugin instead, which does the same work in a
 * Node process of its own: `sluice-plugin` next to the shim (written by `sluice install`: a small
 * script that execs node on the package's dist/src/cli/main.js), or the path compiled in with
 * `make PLUGIN=/path`, or $SLUICE_PLUGIN when set. The config bytes read from stdin are handed to
 * it unchanged (through a memfd as its stdin), with the same environment and arguments.
 * Without CNI_COMMAND the shim is not a CNI call: it execs the plugin at once (the `sluice` CLI).
 *
 * The wire protocol is src/daemon/protocol.ts: frames of a 4-byte big-endian length and JSON. The
 * agent answers {"accepted": true} once it has read and checked a call and is about to run it, then
 * {"stdout": "...", "exitCode": N}. That first frame is what makes falling back safe:
 *
 *   1. connect() fails (ENOENT: no socket; ECONNREFUSED: no agent behind it, a stale socket after a
 *      crash or a restart under way; EACCES: not ours to use; EAGAIN/timeout: an agent too busy to
 *      accept): nothing was sent. The standalone plugin runs the call.
 *   2. The connection ends before "accepted" (the agent was stopping and closed its listening socket
 *      with us in its backlog, or died before reading us): the call was not run. Try the agent again
 *      (up to 3 attempts, 10 and 50 ms apart), then the standalone plugin.
 *   3. The connection ends after "accepted" but before the answer: the agent died during the call
 *      (a graceful stop always finishes what it accepted). The call may have been done, wholly or in
 *      part. DEL, CHECK, STATUS, GC and VERSION can be run again as they are (DEL succeeds when there
 *      is nothing left to delete; the others change nothing or are idempotent): run it again, agent or
 *      standalone. ADD cannot: a second ADD finds the first one's veth and fails. So the shim undoes
 *      what the lost ADD may have left, with a DEL of the same attachment (sluice's DEL removes
 *      whatever exists, from any point of an ADD: the IPAM lease, veth, routes, map entries, link, the
 *      record), and then runs the ADD once more. The runtime never saw the first ADD's result, so
 *      nothing it holds refers to what was removed. If the DEL fails, or the second ADD is lost as
 *      well, the shim answers CNI error 11 (try again later) and the runtime's own retry (DEL, then
 *      ADD) takes over.
 *   4. Any complete answer is final, including an error the agent gave without "accepted" (a refused
 *      peer, a request too large, ...): printed as it is.
 * A request larger than the agent's default limit (4 MiB) is not sent at all: the standalone plugin
 * takes it.
 *
 * SLUICE_SHIM_DEBUG=1 makes the shim say on stderr which way each call went.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_SOCKET "/run/sluice/sluice.sock"
#define PLUGIN_NAME "sluice-plugin"
#define PROTOCOL_VERSION "1"
#define MAX_REQUEST (4u << 20)
#define MAX_ANSWER (64u << 20)
#define CONNECT_TIMEOUT_S 5
#define NOT_DELIVERED_ATTEMPTS 3

static int debug_enabled;

static void debug(const char *fmt, ...) {
    if (!debug_enabled) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("sluice-shim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- growable buffers ---------------------------------------------------------------------------- */

struct buf {
    char *data;
    size_t len, cap;
};

__attribute__((noreturn)) static void oom(void) {
    /* Nothing sensible can be printed as CNI output without memory; the status says it failed. */
    fputs("sluice-shim: out of memory\n", stderr);
    exit(1);
}

static void buf_reserve(struct buf *b, size_t more) {
    if (b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1) {
        if (cap > SIZE_MAX / 2) oom();
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (!data) oom();
    b->data = data;
    b->cap = cap;
}

static void buf_put(struct buf *b, const void *p, size_t n) {
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_putc(struct buf *b, char c) { buf_put(b, &c, 1); }
static void buf_puts(struct buf *b, const char *s) { buf_put(b, s, strlen(s)); }

static void buf_free(struct buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Reads fd to its end. Returns 0, or -1 with errno set. */
static int read_all(int fd, struct buf *b) {
    for (;;) {
        buf_reserve(b, 65536);
        ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (n == 0) return 0;
        b->len += (size_t)n;
        b->data[b->len] = '\0';
    }
}

/* ---- JSON out: strings, base64 ---------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *p, size_t n) {
    unsigned char c = p[0];
    if (c >= 0xc2 && c <= 0xdf) return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) return 0;
        if (c == 0xe0 && p[1] < 0xa0) return 0;
        if (c == 0xed && p[1] > 0x9f) return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80) return 0;
        if (c == 0xf0 && p[1] < 0x90) return 0;
        if (c == 0xf4 && p[1] > 0x8f) return 0;
        return 4;
    }
    return 0;
}

/*
 * A JSON string. Bytes that are not UTF-8 become U+FFFD, as Node's own decoding of the environment
 * does, so the agent sees what the standalone plugin would see in process.env.
 */
static void json_string(struct buf *b, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)c);
            i++;
        } else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            buf_puts(b, esc);
            i++;
        } else if (c < 0x80) {
            buf_putc(b, (char)c);
            i++;
        } else {
            size_t len = utf8_sequence(p + i, n - i);
            if (len) {
                buf_put(b, p + i, len);
                i += len;
            } else {
                buf_puts(b, "\\ufffd");
                i++;
            }
        }
    }
    buf_putc(b, '"');
}

static void base64(struct buf *b, const unsigned char *p, size_t n) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    buf_reserve(b, (n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        char out[4] = {alphabet[(v >> 18) & 63], alphabet[(v >> 12) & 63], i + 1 < n ? alphabet[(v >> 6) & 63] : '=', i + 2 < n ? alphabet[v & 63] : '='};
        buf_put(b, out, 4);
    }
}

/*
 * The request frame: {"version":1,"env":{...every variable...},"stdinBase64":"..."}, with
 * CNI_COMMAND replaced by `command` when it is not NULL.
 */
static void build_request(struct buf *frame, const struct buf *in, const char *command) {
    struct buf b = {0};
    buf_put(&b, "\0\0\0\0", 4);
    buf_puts(&b, "{\"version\":" PROTOCOL_VERSION ",\"env\":{");
    int first = 1;
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e) continue;
        size_t klen = (size_t)(eq - *e);
        const char *value = eq + 1;
        if (command && klen == 11 && memcmp(*e, "CNI_COMMAND", 11) == 0) value = command;
        if (!first) buf_putc(&b, ',');
        first = 0;
        json_string(&b, *e, klen);
        buf_putc(&b, ':');
        json_string(&b, value, strlen(value));
    }
    buf_puts(&b, "},\"stdinBase64\":\"");
    base64(&b, (const unsigned char *)(in->data ? in->data : ""), in->len);
    buf_puts(&b, "\"}");
    size_t body = b.len - 4;
    b.data[0] = (char)((body >> 24) & 0xff);
    b.data[1] = (char)((body >> 16) & 0xff);
    b.data[2] = (char)((body >> 8) & 0xff);
    b.data[3] = (char)(body & 0xff);
    *frame = b;
}

/* ---- JSON in: just enough for the answers (and stdin's cniVersion) --------------------------------- */

struct parser {
    const char *p, *end;
};

static void skip_ws(struct parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(struct buf *b, unsigned cp) {
    char o[4];
    if (cp < 0x80) { o[0] = (char)cp; buf_put(b, o, 1); }
    else if (cp < 0x800) { o[0] = (char)(0xc0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3f)); buf_put(b, o, 2); }
    else if (cp < 0x10000) { o[0] = (char)(0xe0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[2] = (char)(0x80 | (cp & 0x3f)); buf_put(b, o, 3); }
    else { o[0] = (char)(0xf0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f)); o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f)); buf_put(b, o, 4); }
}

/* A string at ps->p (the opening quote), unescaped into out (when not NULL). 0 or -1. */
static int parse_string(struct parser *ps, struct buf *out) {
    if (ps->p >= ps->end || *ps->p != '"') return -1;
    ps->p++;
    while (ps->p < ps->end) {
        char c = *ps->p++;
        if (c == '"') return 0;
        if (c != '\\') {
            if (out) buf_putc(out, c);
            continue;
        }
        if (ps->p >= ps->end) return -1;
        char e = *ps->p++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            if (out) buf_putc(out, decoded[simple - "\"\\/bfnrt"]);
            continue;
        }
        if (e != 'u' || ps->end - ps->p < 4) return -1;
        unsigned cp;
        if (hex4(ps->p, &cp)) return -1;
        ps->p += 4;
        if (cp >= 0xd800 && cp <= 0xdbff && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
            unsigned lo;
            if (!hex4(ps->p + 2, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                ps->p += 6;
            }
        }
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
        if (out) put_utf8(out, cp);
    }
    return -1;
}

static int skip_value(struct parser *ps, int depth) {
    if (depth > 64) return -1;
    skip_ws(ps);
    if (ps->p >= ps->end) return -1;
    char c = *ps->p;
    if (c == '"') return parse_string(ps, NULL);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        ps->p++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                skip_ws(ps);
                if (parse_string(ps, NULL)) return -1;
                skip_ws(ps);
                if (ps->p >= ps->end || *ps->p++ != ':') return -1;
            }
            if (skip_value(ps, depth + 1)) return -1;
            skip_ws(ps);
            if (ps->p >= ps->end) return -1;
            if (*ps->p == ',') { ps->p++; continue; }
            if (*ps->p == close) { ps->p++; return 0; }
            return -1;
        }
    }
    /* a number, true, false or null */
    const char *start = ps->p;
    while (ps->p < ps->end && *ps->p && strchr("+-0123456789.eEtrufalsn", *ps->p)) ps->p++;
    return ps->p > start ? 0 : -1;
}

struct answer {
    int accepted;       /* {"accepted": true} */
    int has_stdout;
    int has_exit_code;
    long exit_code;
    struct buf stdout_text;
};

/* The top-level members of an answer frame that matter here. 0 or -1 (not an object). */
static int parse_answer(const char *text, size_t n, struct answer *a) {
    struct parser ps = {text, text + n};
    memset(a, 0, sizeof *a);
    skip_ws(&ps);
    if (ps.p >= ps.end || *ps.p++ != '{') return -1;
    skip_ws(&ps);
    if (ps.p < ps.end && *ps.p == '}') return 0;
    for (;;) {
        struct buf key = {0};
        skip_ws(&ps);
        if (parse_string(&ps, &key)) { buf_free(&key); return -1; }
        skip_ws(&ps);
        if (ps.p >= ps.end || *ps.p++ != ':') { buf_free(&key); return -1; }
        skip_ws(&ps);
        const char *k = key.data ? key.data : "";
        if (strcmp(k, "stdout") == 0 && ps.p < ps.end && *ps.p == '"') {
            a->stdout_text.len = 0;
            buf_reserve(&a->stdout_text, 0);
            if (parse_string(&ps, &a->stdout_text)) { buf_free(&key); return -1; }
            a->has_stdout = 1;
        } else if (strcmp(k, "exitCode") == 0 && ps.p < ps.end && (*ps.p == '-' || (*ps.p >= '0' && *ps.p <= '9'))) {
            char *endp;
            a->exit_code = strtol(ps.p, &endp, 10);
            if (endp == ps.p || endp > ps.end) { buf_free(&key); return -1; }
            ps.p = endp;
            a->has_exit_code = 1;
        } else if (strcmp(k, "accepted") == 0 && ps.end - ps.p >= 4 && memcmp(ps.p, "true", 4) == 0) {
            ps.p += 4;
            a->accepted = 1;
        } else if (skip_value(&ps, 0)) {
            buf_free(&key);
            return -1;
        }
        buf_free(&key);
        skip_ws(&ps);
        if (ps.p >= ps.end) return -1;
        if (*ps.p == ',') { ps.p++; continue; }
        if (*ps.p == '}') return 0;
        return -1;
    }
}

/* The config's "cniVersion" when stdin is a JSON object naming one like "1.0.0"; else the latest. */
static void config_version(const struct buf *in, char *out, size_t n) {
    snprintf(out, n, "1.1.0");
    if (!in->len) return;
    struct parser ps = {in->data, in->data + in->len};
    skip_ws(&ps);
    if (ps.p >= ps.end || *ps.p++ != '{') return;
    for (;;) {
        struct buf key = {0}, value = {0};
        skip_ws(&ps);
        if (parse_string(&ps, &key)) { buf_free(&key); return; }
        skip_ws(&ps);
        if (ps.p >= ps.end || *ps.p++ != ':') { buf_free(&key); return; }
        skip_ws(&ps);
        int found = key.data && strcmp(key.data, "cniVersion") == 0 && ps.p < ps.end && *ps.p == '"';
        int rc = found ? parse_string(&ps, &value) : skip_value(&ps, 0);
        buf_free(&key);
        if (rc) { buf_free(&value); return; }
        if (found) {
            unsigned a, b, c;
            char tail;
            if (value.data && value.len < 16 && sscanf(value.data, "%u.%u.%u%c", &a, &b, &c, &tail) == 3) snprintf(out, n, "%s", value.data);
            buf_free(&value);
            return;
        }
        skip_ws(&ps);
        if (ps.p >= ps.end || *ps.p != ',') return;
        ps.p++;
    }
}

/* Prints a CNI error object the way the plugin would, and exits 1. */
__attribute__((noreturn)) static void fail(const struct buf *in, int code, const char *msg, const char *details) {
    char version[16];
    config_version(in, version, sizeof version);
    struct buf b = {0};
    buf_puts(&b, "{\"cniVersion\":");
    json_string(&b, version, strlen(version));
    char num[32];
    snprintf(num, sizeof num, ",\"code\":%d,\"msg\":", code);
    buf_puts(&b, num);
    json_string(&b, msg, strlen(msg));
    if (details && *details) {
        buf_puts(&b, ",\"details\":");
        json_string(&b, details, strlen(details));
    }
    buf_puts(&b, "}\n");
    fwrite(b.data, 1, b.len, stdout);
    fflush(stdout);
    exit(1);
}

/* ---- the exchange with the agent -------------------------------------------------------------------- */

enum outcome {
    ANSWERED,      /* a final answer: print it */
    NO_AGENT,      /* connect() failed: nothing sent */
    NOT_DELIVERED, /* connected, lost before "accepted": not run */
    UNKNOWN,       /* lost after "accepted": may have run */
};

static const char *outcome_name(enum outcome o) {
    switch (o) {
    case ANSWERED: return "answered";
    case NO_AGENT: return "no agent";
    case NOT_DELIVERED: return "not delivered";
    case UNKNOWN: return "lost after it was accepted";
    }
    return "?";
}

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads exactly n bytes: 0, or -1 on the end of the connection or an error. */
static int read_full(int fd, char *p, size_t n) {
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) {
            errno = ECONNRESET; /* the end of the connection, for the debug line */
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static enum outcome exchange(const char *path, const struct buf *frame, struct answer *ans, int *err) {
    *err = 0;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        *err = ENAMETOOLONG;
        return NO_AGENT;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errno;
        return NO_AGENT;
    }
    /* A full backlog makes connect() wait: not for ever. */
    struct timeval tv = {.tv_sec = CONNECT_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        *err = errno;
        close(fd);
        return NO_AGENT;
    }
    if (write_all(fd, frame->data, frame->len) < 0) *err = errno; /* an answer may still be waiting (a refusal) */

    int accepted = 0;
    enum outcome result = NOT_DELIVERED;
    for (;;) {
        unsigned char header[4];
        if (read_full(fd, (char *)header, 4) < 0) {
            if (!*err) *err = errno;
            break;
        }
        uint32_t len = (uint32_t)header[0] << 24 | (uint32_t)header[1] << 16 | (uint32_t)header[2] << 8 | header[3];
        if (len == 0 || len > MAX_ANSWER) {
            *err = EPROTO;
            break;
        }
        char *body = malloc(len);
        if (!body) oom();
        if (read_full(fd, body, len) < 0) {
            free(body);
            if (!*err) *err = errno;
            break;
        }
        struct answer a;
        int bad = parse_answer(body, len, &a);
        free(body);
        if (bad) {
            buf_free(&a.stdout_text);
            *err = EPROTO;
            break;
        }
        if (a.accepted && !a.has_stdout) {
            accepted = 1;
            continue;
        }
        if (a.has_stdout && a.has_exit_code && (a.exit_code == 0 || a.exit_code == 1)) {
            *ans = a;
            result = ANSWERED;
            break;
        }
        buf_free(&a.stdout_text);
        *err = EPROTO;
        break;
    }
    close(fd);
    if (result == ANSWERED) return ANSWERED;
    return accepted ? UNKNOWN : NOT_DELIVERED;
}

/* ---- the standalone plugin ---------------------------------------------------------------------------- */

static void plugin_path(char *out, size_t n) {
    const char *env = getenv("SLUICE_PLUGIN");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return;
    }
#ifdef SLUICE_PLUGIN_PATH
    snprintf(out, n, "%s", SLUICE_PLUGIN_PATH);
#else
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        snprintf(out, n, "/opt/cni/bin/" PLUGIN_NAME);
        return;
    }
    self[len] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) slash[1] = '\0';
    if (strlen(self) + sizeof PLUGIN_NAME > n) {
        snprintf(out, n, "/opt/cni/bin/" PLUGIN_NAME);
        return;
    }
    strcpy(out, self);
    strcat(out, PLUGIN_NAME);
#endif
}

/* A file descriptor reading back the stdin bytes the shim consumed. */
static int stdin_copy(const struct buf *in) {
    int fd = memfd_create("sluice-stdin", MFD_CLOEXEC);
    if (fd < 0) {
        char tmpl[] = "/tmp/sluice-stdin-XXXXXX";
        fd = mkostemp(tmpl, O_CLOEXEC);
        if (fd < 0) return -1;
        unlink(tmpl);
    }
    size_t done = 0;
    while (done < in->len) {
        ssize_t w = write(fd, in->data + done, in->len - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Replaces this process with the standalone plugin, stdin given back. Does not return. */
__attribute__((noreturn)) static void exec_standalone(char **argv, const struct buf *in, int restore_stdin, const char *why) {
    char plugin[PATH_MAX];
    plugin_path(plugin, sizeof plugin);
    debug("standalone plugin %s (%s)", plugin, why);
    if (restore_stdin) {
        int fd = stdin_copy(in);
        if (fd < 0 || dup2(fd, 0) < 0) {
            char details[256];
            snprintf(details, sizeof details, "%s", strerror(errno));
            fail(in, 999, "sluice: cannot pass the network config to the standalone plugin", details);
        }
        close(fd);
    }
    argv[0] = plugin;
    execv(plugin, argv);
    char details[PATH_MAX + 256];
    snprintf(details, sizeof details, "no sluice agent answers (%s) and %s cannot be run: %s", why, plugin, strerror(errno));
    fail(in, 999, "sluice: neither the agent nor the standalone plugin is available", details);
}

/* Runs the standalone plugin as a child with CNI_COMMAND=command; its stdout into out. Its exit status, or -1. */
static int spawn_standalone(const struct buf *in, const char *command, struct buf *out) {
    char plugin[PATH_MAX];
    plugin_path(plugin, sizeof plugin);
    debug("standalone plugin %s for %s", plugin, command);
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) return -1;
    int input = stdin_copy(in);
    if (input < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        close(input);
        return -1;
    }
    if (pid == 0) {
        if (dup2(input, 0) < 0 || dup2(pipefd[1], 1) < 0) _exit(127);
        setenv("CNI_COMMAND", command, 1);
        char *args[] = {plugin, NULL};
        execv(plugin, args);
        _exit(127);
    }
    close(pipefd[1]);
    close(input);
    int rc = read_all(pipefd[0], out);
    close(pipefd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    if (rc < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

__attribute__((noreturn)) static void print_answer(struct answer *a) {
    if (a->stdout_text.len) {
        fwrite(a->stdout_text.data, 1, a->stdout_text.len, stdout);
        if (a->stdout_text.data[a->stdout_text.len - 1] != '\n') fputc('\n', stdout);
    }
    fflush(stdout);
    exit(a->exit_code == 0 ? 0 : 1);
}

static void pause_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* One call to the agent, retried while it is not delivered. */
static enum outcome call_agent(const char *path, const struct buf *frame, struct answer *ans, int *err) {
    static const long pauses[NOT_DELIVERED_ATTEMPTS] = {0, 10, 50};
    enum outcome o = NO_AGENT;
    for (int attempt = 0; attempt < NOT_DELIVERED_ATTEMPTS; attempt++) {
        if (pauses[attempt]) pause_ms(pauses[attempt]);
        o = exchange(path, frame, ans, err);
        debug("agent %s: %s%s%s", path, outcome_name(o), *err ? ": " : "", *err ? strerror(*err) : "");
        if (o != NOT_DELIVERED) return o;
    }
    return o;
}

/* ADD lost after "accepted": DEL what it may have left, then ADD once more. Does not return. */
__attribute__((noreturn)) static void recover_add(char **argv, const char *path, const struct buf *in) {
    struct answer ans;
    int err;
    struct buf frame = {0};
    build_request(&frame, in, "DEL");
    enum outcome o = call_agent(path, &frame, &ans, &err);
    buf_free(&frame);
    int del_status;
    struct buf del_out = {0};
    if (o == ANSWERED) {
        del_status = (int)ans.exit_code;
        del_out = ans.stdout_text;
    } else {
        del_status = spawn_standalone(in, "DEL", &del_out);
    }
    if (del_status != 0) {
        fail(in, 11, "the sluice agent stopped during ADD, and cleaning up after it failed: try again later",
             del_out.len ? del_out.data : "the DEL could not be run");
    }
    buf_free(&del_out);
    debug("cleaned up after the lost ADD: adding again");

    build_request(&frame, in, NULL);
    o = call_agent(path, &frame, &ans, &err);
    if (o == ANSWERED) print_answer(&ans);
    if (o == UNKNOWN) fail(in, 11, "the sluice agent stopped twice during ADD: try again later", "DEL the attachment before adding it again");
    exec_standalone(argv, in, 1, "agent gone after a lost ADD");
}

int main(int argc, char **argv) {
    (void)argc;
    debug_enabled = getenv("SLUICE_SHIM_DEBUG") && strcmp(getenv("SLUICE_SHIM_DEBUG"), "1") == 0;
    struct buf in = {0};
    const char *command = getenv("CNI_COMMAND");
    if (!command) exec_standalone(argv, &in, 0, "not a CNI call");

    /* As the plugin does: a terminal on stdin is no config. */
    int from_tty = isatty(0);
    if (!from_tty && read_all(0, &in) < 0) {
        char details[128];
        snprintf(details, sizeof details, "reading stdin: %s", strerror(errno));
        fail(&in, 5, "cannot read the network config", details);
    }
    if (!in.data) buf_reserve(&in, 0);

    const char *path = getenv("SLUICE_SOCKET");
    if (!path || !*path) path = DEFAULT_SOCKET;

    struct buf frame = {0};
    build_request(&frame, &in, NULL);
    if (frame.len - 4 > MAX_REQUEST) exec_standalone(argv, &in, !from_tty, "request larger than the agent takes");

    struct answer ans;
    int err;
    enum outcome o = call_agent(path, &frame, &ans, &err);
    if (o == ANSWERED) print_answer(&ans);
    if (o == NO_AGENT || o == NOT_DELIVERED) {
        char why[128];
        snprintf(why, sizeof why, "%s: %s", outcome_name(o), strerror(err ? err : ECONNREFUSED));
        exec_standalone(argv, &in, !from_tty, why);
    }
    /* UNKNOWN: lost after "accepted". */
    if (strcmp(command, "ADD") == 0) recover_add(argv, path, &in);
    /* DEL, CHECK, STATUS, GC, VERSION: the same call again is safe. */
    o = call_agent(path, &frame, &ans, &err);
    if (o == ANSWERED) print_answer(&ans);
    exec_standalone(argv, &in, !from_tty, "agent lost the call");
}
