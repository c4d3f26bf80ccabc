/* lambdalab's runtime launcher: puts itself under an environment's limits and namespace, then execs the runtime.

   launch SIGNAL PARENT TMP OPT [CGROUP_PROCS_FILE ...] -- PROGRAM [ARG ...]

   1. the parent-death signal (SIGNAL, 0 for none), then exits at once if PARENT is no longer its parent;
   2. joins each cgroup by writing its own pid to the given cgroup.procs files, so the runtime is born
      inside its memory and pids limits (every byte of its init is charged, no child escapes them) and
      the owner never has to move a running, multi-threaded process (which stalls its thread creation);
   3. unless TMP is "-": a private mount namespace whose mounts are slaves of the machine's, OPT (unless
      "-") bound read-only on /opt and TMP bound on /tmp (as lambdalab/engine/mounts.py documents);
   4. execs PROGRAM with the environment it was given.

   The owner starts it with posix_spawn/vfork (no preexec_fn), which costs a fraction of a fork of a large
   Python process. Any failure is written to stderr and exits 127, which the engine reads as a runtime that
   never started. Built once per machine by lambdalab/engine/launcher.py; plain C, libc only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

static void fail(const char *what) {
    fprintf(stderr, "lambdalab launch: %s: %s\n", what, strerror(errno));
    _exit(127);
}

int main(int argc, char **argv) {
    if (argc < 7) {
        errno = EINVAL;
        fail("usage: launch SIGNAL PARENT TMP OPT [CGROUP_PROCS ...] -- PROGRAM [ARG ...]");
    }
    int signum = atoi(argv[1]);
    long parent = atol(argv[2]);
    const char *tmp = argv[3], *opt = argv[4];
    if (signum > 0 && prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0) fail("prctl(PR_SET_PDEATHSIG)");
    if (parent > 0 && getppid() != (pid_t)parent) _exit(0); /* the owner is already gone */

    char pid[32];
    int length = snprintf(pid, sizeof pid, "%ld", (long)getpid());
    int i = 5;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        int fd = open(argv[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0) continue; /* no such group (a Lab without limits): as the owner's own move would */
        if (write(fd, pid, (size_t)length) < 0) { /* the group refused: the engine's limits probe decides */ }
        close(fd);
    }
    if (i + 1 >= argc) {
        errno = EINVAL;
        fail("no program after --");
    }
    if (strcmp(tmp, "-") != 0) {
        if (unshare(CLONE_NEWNS) != 0) fail("unshare(CLONE_NEWNS)");
        if (mount("none", "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) fail("mount --make-rslave /");
        if (strcmp(opt, "-") != 0) { /* before /tmp: both folders may live under the machine's /tmp */
            if (mount(opt, "/opt", NULL, MS_BIND, NULL) != 0) fail("mount --bind /opt");
            mount("none", "/opt", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL); /* read-only, as on Lambda */
        }
        if (mount(tmp, "/tmp", NULL, MS_BIND, NULL) != 0) fail("mount --bind /tmp");
    }
    execvp(argv[i + 1], &argv[i + 1]);
    fail(argv[i + 1]);
    return 127;
}
