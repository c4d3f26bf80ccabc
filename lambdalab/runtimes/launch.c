/* lambdalab's runtime launcher: puts itself under an environment's limits and namespace, then execs the runtime.

   launch SIGNAL PARENT TMP OPT READONLY HIDE [CGROUP_PROCS_FILE ...] -- PROGRAM [ARG ...]
   launch SIGNAL PARENT TMP - READONLY HIDE [CGROUP_PROCS_FILE ...] -- @stdin


   1. the parent-death signal (SIGNAL, 0 for none), then exits at once if PARENT is no longer its parent;
   2. joins each cgroup by writing its own pid to the given cgroup.procs files, so the runtime is born
      inside its memory and pids limits (every byte of its init is charged, no child escapes them) and
      the owner never has to move a running, multi-threaded process (which stalls its thread creation);
   3. unless TMP is "-": a private mount namespace whose mounts are slaves of the machine's, OPT (unless
      "-") bound read-only on /opt and TMP bound on /tmp (as lambdalab/engine/mounts.py documents); then
      the folders of READONLY (":"-separated: the Lab's task roots, layers, runtime folders and lambdalab's
      cache, shared by every environment) bound read-only on themselves, and HIDE (the Lab's folder of
      environments) covered by an empty read-only tmpfs in which only TMP's parent, this environment's own
      folder, is bound again: no environment reads or changes another's /tmp or a file others run; and
      TMP's sibling "hosts", where it exists, read-only on /etc/hosts (sandbox.localdomain);
   4. execs PROGRAM with the environment it was given.
   With "@stdin" it is a spare environment (lambdalab/engine/spare.py): after steps 1-3 it waits for its
   runtime on stdin, NUL-separated: OPT, the working directory, the argument count, the arguments, then
   NAME=VALUE entries up to the end of the input; binds OPT (unless "-") on /opt, reads stdin from
   /dev/null and execs. The slow part of a cold start (the cgroup migration waits for an RCU grace
   period, 5-20 ms on an idle machine) is then over before any invocation needs the environment.

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

#define MAX_COMMAND (1 << 20) /* arguments and environment: Lambda's variables stay far below */

#include <libgen.h>
#include <sys/stat.h>

static void fail(const char *what) {
    fprintf(stderr, "lambdalab launch: %s: %s\n", what, strerror(errno));
    _exit(127);
}

static void bind_opt(const char *opt) {
    if (strcmp(opt, "-") == 0) return;
    if (mount(opt, "/opt", NULL, MS_BIND, NULL) != 0) fail("mount --bind /opt");
    mount("none", "/opt", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL); /* read-only, as on Lambda */
}

static void read_only(const char *list) {
    if (strcmp(list, "-") == 0) return;
    char *copy = strdup(list);
    for (char *path = strtok(copy, ":"); path != NULL; path = strtok(NULL, ":")) {
        if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) != 0) {
            if (errno == ENOENT) continue; /* not made yet (a cache folder): nothing there to protect */
            fail("mount --rbind (read-only)");
        }
        if (mount("none", path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) != 0) fail("remount read-only");
    }
    free(copy);
}

/* HIDE covered by an empty tmpfs, with the environment's own folder (own_fd, opened before the cover) in it. */
static void hide_others(const char *hide, const char *tmp, int own_fd) {
    if (strcmp(hide, "-") == 0) return;
    char own[4096], path[4200], source[64];
    snprintf(own, sizeof own, "%s", tmp);
    char *name = basename(dirname(own)); /* TMP is HIDE/<environment>/tmp */
    if (mount("lambdalab-hidden", hide, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755") != 0) fail("cover");
    snprintf(path, sizeof path, "%s/%s", hide, name);
    if (mkdir(path, 0700) != 0) fail("mkdir in the cover");
    snprintf(source, sizeof source, "/proc/self/fd/%d", own_fd);
    if (mount(source, path, NULL, MS_BIND | MS_REC, NULL) != 0) fail("bind the environment's folder");
    if (mount("none", hide, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0) fail("cover read-only");
    close(own_fd);
}

/* The environment's /etc/hosts (TMP's sibling "hosts", written by lambdalab/engine/spare.py: the machine's
   lines and sandbox.localdomain on the environment's own loopback address), bound read-only where it exists. */
static void bind_hosts(const char *tmp) {
    char own[4096], hosts[4200];
    snprintf(own, sizeof own, "%s", tmp);
    snprintf(hosts, sizeof hosts, "%s/hosts", dirname(own));
    if (access(hosts, R_OK) != 0) return;
    if (mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL) != 0) fail("mount --bind /etc/hosts");
    mount("none", "/etc/hosts", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
}

/* The spare's wait: the command arrives on stdin; an owner that goes away (EOF before a command) ends it. */
static void run_from_stdin(int namespaced) {
    static char buffer[MAX_COMMAND + 1];
    size_t used = 0;
    for (;;) {
        ssize_t got = read(0, buffer + used, MAX_COMMAND - used);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) fail("read the command");
        if (got == 0) break;
        used += (size_t)got;
        if (used == MAX_COMMAND) { errno = E2BIG; fail("the command"); }
    }
    if (used == 0) _exit(0); /* never used: the owner closed the pipe */
    buffer[used] = '\0';
    char *fields[4096];
    size_t count = 0;
    for (size_t at = 0; at < used && count < 4095; at += strlen(buffer + at) + 1) fields[count++] = buffer + at;
    if (count < 4) { errno = EINVAL; fail("the command"); }
    long argc = atol(fields[2]);
    if (argc < 1 || (size_t)(3 + argc) > count) { errno = EINVAL; fail("the command's arguments"); }
    static char *args[4096];
    for (long k = 0; k < argc; k++) args[k] = fields[3 + k];
    args[argc] = NULL;
    char **env = &fields[3 + argc];
    fields[count] = NULL;
    /* /opt after /tmp here: the Lab's files (the layers) never live under the machine's /tmp when it
       gives runtimes their own (lambdalab/engine/mounts.py) */
    if (namespaced) bind_opt(fields[0]);
    if (chdir(fields[1]) != 0) fail("chdir");
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0) fail("/dev/null");
    char *program = args[0];
    execve(program, args, env);
    fail(program);
}

int main(int argc, char **argv) {
    if (argc < 9) {
        errno = EINVAL;
        fail("usage: launch SIGNAL PARENT TMP OPT READONLY HIDE [CGROUP_PROCS ...] -- PROGRAM [ARG ...]");
    }
    int signum = atoi(argv[1]);
    long parent = atol(argv[2]);
    const char *tmp = argv[3], *opt = argv[4], *readonly = argv[5], *hide = argv[6];
    if (signum > 0 && prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0) fail("prctl(PR_SET_PDEATHSIG)");
    if (parent > 0 && getppid() != (pid_t)parent) _exit(0); /* the owner is already gone */

    char pid[32];
    int length = snprintf(pid, sizeof pid, "%ld", (long)getpid());
    int i = 7;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) { /* fails closed: never a runtime outside its limits */
        int fd = open(argv[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0) fail(argv[i]);
        if (write(fd, pid, (size_t)length) < 0) fail(argv[i]);
        close(fd);
    }
    if (i + 1 >= argc) {
        errno = EINVAL;
        fail("no program after --");
    }
    int namespaced = strcmp(tmp, "-") != 0;
    if (namespaced) {
        if (unshare(CLONE_NEWNS) != 0) fail("unshare(CLONE_NEWNS)");
        if (mount("none", "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) fail("mount --make-rslave /");
        /* the environment's own folder, held in this namespace before anything covers it or makes it read-only */
        char own[4096];
        snprintf(own, sizeof own, "%s", tmp);
        int own_fd = strcmp(hide, "-") != 0 ? open(dirname(own), O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
        if (strcmp(hide, "-") != 0 && own_fd < 0) fail("the environment's folder");
        bind_opt(opt); /* before /tmp: both folders may live under the machine's /tmp */
        if (mount(tmp, "/tmp", NULL, MS_BIND, NULL) != 0) fail("mount --bind /tmp");
        bind_hosts(tmp);
        read_only(readonly);
        hide_others(hide, tmp, own_fd);
    }
    if (strcmp(argv[i + 1], "@stdin") == 0) run_from_stdin(namespaced);
    execvp(argv[i + 1], &argv[i + 1]);
    fail(argv[i + 1]);
    return 127;
}
