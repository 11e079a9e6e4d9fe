/*
 * maxrss: runs a program and writes the peak resident set size of its process tree (ru_maxrss from
 * wait4, in KiB) to a file, for the control-plane benchmark's memory pass.
 *
 *   maxrss OUT-FILE PROGRAM [ARG...]
 *
 * stdin, stdout, stderr and the environment go to the program unchanged; maxrss exits with the
 * program's exit status (128 + the signal number if it was killed). The figure is the largest of the
 * program and every descendant it waited for (the kernel keeps the maximum across exec and folds in
 * reaped children's maxima), not their sum: for the bridge plugin, the larger of bridge and host-local.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: maxrss OUT-FILE PROGRAM [ARG...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("maxrss: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror("maxrss: exec");
        _exit(127);
    }
    int status;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno == EINTR) continue;
        perror("maxrss: wait4");
        return 2;
    }
    FILE *out = fopen(argv[1], "w");
    if (!out || fprintf(out, "%ld\n", usage.ru_maxrss) < 0 || fclose(out) != 0) {
        perror("maxrss: writing the figure");
        return 2;
    }
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
