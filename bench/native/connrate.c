/*
 * New TCP connections per second, the data-plane benchmark's own tool (bench/dataplane/connrate.ts
 * compiles it with the machine's C compiler into bench/native/build/).
 *
 *   connrate server <ipv4> <port> <threads>
 *       accepts on <ipv4>:<port> with <threads> threads until killed; prints "listening" once the
 *       socket listens. For each connection: send one byte, wait until the client closes, close.
 *   connrate client <ipv4> <port> <seconds> <connectors>
 *       <connectors> threads, each for <seconds>: connect, read the server's byte, close; then prints
 *       one line of JSON: {"connections":N,"errors":E,"seconds":S}
 *
 * One connection is a whole transaction (handshake, one byte from the server, teardown), like
 * netperf's TCP_CRR with a one-byte answer. Both sides close with SO_LINGER {1, 0}, i.e. with a RST:
 * no socket is left in TIME_WAIT, so the client's ephemeral ports never run out however long it runs.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64

static struct sockaddr_in target;
static double run_seconds;
static atomic_long connections;
static atomic_long errors;
static int listen_fd;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "connrate: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Closing with a RST: nothing stays in TIME_WAIT. */
static void close_abortively(int fd) {
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

static void *serve(void *unused) {
  (void)unused;
  for (;;) {
    int fd = accept(listen_fd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die("accept");
    }
    char byte = 'x';
    if (send(fd, &byte, 1, MSG_NOSIGNAL) == 1) {
      /* Wait for the client's close (0 or ECONNRESET) before closing: a RST from this side could
         otherwise overtake the byte the client has not read yet. */
      char sink[16];
      while (recv(fd, sink, sizeof sink, 0) > 0) {
      }
    }
    close_abortively(fd);
  }
  return NULL;
}

static void *connect_loop(void *unused) {
  (void)unused;
  double end = now() + run_seconds;
  while (now() < end) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    char byte;
    if (connect(fd, (struct sockaddr *)&target, sizeof target) == 0 && recv(fd, &byte, 1, 0) == 1)
      atomic_fetch_add(&connections, 1);
    else
      atomic_fetch_add(&errors, 1);
    close_abortively(fd);
  }
  return NULL;
}

static int parse_count(const char *s, const char *what) {
  char *end;
  long n = strtol(s, &end, 10);
  if (*end || n < 1 || n > MAX_THREADS) {
    fprintf(stderr, "connrate: %s must be within [1, %d], got %s\n", what, MAX_THREADS, s);
    exit(2);
  }
  return (int)n;
}

static void parse_target(const char *ip, const char *port) {
  memset(&target, 0, sizeof target);
  target.sin_family = AF_INET;
  char *end;
  long p = strtol(port, &end, 10);
  if (*end || p < 1 || p > 65535 || inet_pton(AF_INET, ip, &target.sin_addr) != 1) {
    fprintf(stderr, "connrate: bad address %s:%s\n", ip, port);
    exit(2);
  }
  target.sin_port = htons((unsigned short)p);
}

static void run_threads(int count, void *(*fn)(void *)) {
  pthread_t threads[MAX_THREADS];
  for (int i = 0; i < count; i++)
    if ((errno = pthread_create(&threads[i], NULL, fn, NULL)) != 0) die("pthread_create");
  for (int i = 0; i < count; i++) pthread_join(threads[i], NULL);
}

static int usage(void) {
  fprintf(stderr, "usage: connrate server <ipv4> <port> <threads>\n       connrate client <ipv4> <port> <seconds> <connectors>\n");
  return 2;
}

static int server(char **argv) {
  parse_target(argv[2], argv[3]);
  int threads = parse_count(argv[4], "threads");
  listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) die("socket");
  int one = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listen_fd, (struct sockaddr *)&target, sizeof target) < 0) die("bind");
  if (listen(listen_fd, 4096) < 0) die("listen");
  printf("listening\n");
  fflush(stdout);
  run_threads(threads, serve);
  return 0;
}

static int client(char **argv) {
  parse_target(argv[2], argv[3]);
  char *end;
  run_seconds = strtod(argv[4], &end);
  if (*end || !(run_seconds > 0)) {
    fprintf(stderr, "connrate: seconds must be positive, got %s\n", argv[4]);
    return 2;
  }
  int connectors = parse_count(argv[5], "connectors");
  double start = now();
  run_threads(connectors, connect_loop);
  printf("{\"connections\":%ld,\"errors\":%ld,\"seconds\":%.6f}\n", atomic_load(&connections), atomic_load(&errors), now() - start);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "server") == 0) return server(argv);
  if (argc == 6 && strcmp(argv[1], "client") == 0) return client(argv);
  return usage();
}
