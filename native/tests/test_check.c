/* PKMALLOC_CHECK=1 (pkmalloc only): a double free, a pointer that was never handed out, a
 * pointer inside a block and a huge block freed twice each abort with a message naming the
 * call and the problem; a program that frees correctly runs to the end, and without the
 * variable the checks are off. Each case runs in a child: this program run again with the
 * case as its argument (the variable must be set before the allocator's first call).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkmalloc.h" /* with -DPK_DIRECT: the pk_ names */

static int failures;
/* The misuses go through here, out of the compiler's sight (it would refuse them). */
static void *volatile opaque;

/* The case ``name``, run here (in the child). */
static int run_case(const char *name) {
    if (!strcmp(name, "clean")) {
        void *kept[100];
        for (int i = 0; i < 100; ++i) kept[i] = malloc((size_t)(16 + i * 40));
        void *big = malloc(3u << 20);
        void *aligned = NULL;
        if (posix_memalign(&aligned, 256, 1000) != 0) return 1;
        kept[0] = realloc(kept[0], 5000);
        for (int i = 0; i < 100; ++i) free(kept[i]);
        free(big);
        free(aligned);
        for (int i = 0; i < 1000; ++i) free(malloc(24)); /* the same block, freed and handed out again */
        return 0;
    }
    if (!strcmp(name, "double")) {
        opaque = malloc(40);
        free(opaque);
        free(opaque);
    } else if (!strcmp(name, "never")) {
        char *p = malloc(3000); /* class 3072: its page carves 5 blocks at first, not 15 */
        opaque = p + 10 * 3072;
        free(opaque);
    } else if (!strcmp(name, "inner")) {
        char *p = malloc(64);
        opaque = p + 16;
        free(opaque);
    } else if (!strcmp(name, "huge")) {
        opaque = malloc(5u << 20);
        free(opaque);
        free(opaque);
    } else if (!strcmp(name, "realloc")) {
        opaque = malloc(100);
        free(opaque);
        opaque = realloc(opaque, 200);
    }
    return 0; /* not reached for a caught misuse */
}

/* Run ``name`` in a child with PKMALLOC_CHECK set to ``check``; its exit status or signal
 * in *status, what it wrote on stderr in ``err``. */
static void run_child(const char *self, const char *name, const char *check, int *status, char *err, size_t size) {
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipe_fds[1], STDERR_FILENO);
        close(pipe_fds[0]);
        setenv("PKMALLOC_CHECK", check, 1);
        execl(self, self, name, (char *)NULL);
        _exit(127);
    }
    close(pipe_fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < size && (n = read(pipe_fds[0], err + got, size - 1 - got)) > 0) got += (size_t)n;
    err[got] = '\0';
    close(pipe_fds[0]);
    waitpid(pid, status, 0);
}

static void expect_abort(const char *self, const char *name, const char *message) {
    int status;
    char err[4096];
    run_child(self, name, "1", &status, err, sizeof err);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT || strstr(err, message) == NULL) {
        fprintf(stderr, "test_check: %s: wanted an abort saying \"%s\"; got status %d, stderr: %s\n", name, message,
                status, err);
        ++failures;
    }
}

int main(int argc, char **argv) {
    if (argc > 1) return run_case(argv[1]);
    char self[4096];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0) return 1;
    self[length] = '\0';
    expect_abort(self, "double", "pkmalloc: free(): double free detected");
    expect_abort(self, "never", "pkmalloc: free(): invalid pointer (never handed out)");
    expect_abort(self, "inner", "pkmalloc: free(): invalid pointer (inside a block)");
    expect_abort(self, "huge", "pkmalloc: free(): invalid pointer or double free detected");
    expect_abort(self, "realloc", "pkmalloc: realloc(): pointer already freed");
    int status;
    char err[4096];
    run_child(self, "clean", "1", &status, err, sizeof err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "test_check: a clean program failed under PKMALLOC_CHECK=1: status %d, stderr: %s\n", status,
                err);
        ++failures;
    }
    if (failures) return 1;
    printf("test_check: ok\n");
    return 0;
}
