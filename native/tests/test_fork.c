/* fork() while other threads allocate: the child must be able to allocate and free at
 * once (no lock left held by a thread that does not exist in the child). An alarm turns a
 * deadlocked child into a failure instead of a hang. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkmalloc.h" /* with -DPK_DIRECT: the pk_ names */

#define THREADS 4

static atomic_int stop;

static void *churn(void *arg) {
    unsigned state = (unsigned)(size_t)arg;
    void *held[64] = {0};
    while (!atomic_load(&stop)) {
        state = state * 1103515245u + 12345u;
        unsigned slot = (state >> 8) % 64;
        free(held[slot]);
        /* Sizes that need new spans and huge mappings now and then (the global lock). */
        size_t size = (state >> 16) % 16 == 0 ? 300000 + state % 100000 : 16 + state % 70000;
        held[slot] = malloc(size);
        if (held[slot] != NULL) memset(held[slot], 1, 16);
    }
    for (int i = 0; i < 64; ++i) free(held[i]);
    return NULL;
}

int main(int argc, char **argv) {
    int forks = argc > 1 ? atoi(argv[1]) : 200;
    pthread_t threads[THREADS];
    for (size_t i = 0; i < THREADS; ++i) pthread_create(&threads[i], NULL, churn, (void *)(i + 1));
    int bad = 0;
    for (int i = 0; i < forks && !bad; ++i) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(10);
            for (int j = 0; j < 1000; ++j) {
                void *p = malloc((size_t)(16 + j * 97 % 400000));
                if (p == NULL) _exit(2);
                memset(p, 3, 16);
                free(p);
            }
            _exit(0);
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "test_fork: child %d failed (status %d)\n", i, status);
            bad = 1;
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; ++i) pthread_join(threads[i], NULL);
    if (bad) return 1;
    puts("test_fork: ok");
    return 0;
}
