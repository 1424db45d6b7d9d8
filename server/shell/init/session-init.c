/*
 * session-init: the init of one shell session. It ends everything the session started.
 *
 *   session-init [--uid N --gid N] [--] SHELL [ARGS...]
 *
 * The server spawns it on the session's pty instead of the shell (node-pty makes it a session
 * leader with the pty as its controlling terminal). It
 *   - becomes a child subreaper: every process the session starts stays its descendant, even one
 *     that calls setsid or double-forks into a daemon (when its parent exits it is reparented
 *     here, not to PID 1); and asks for SIGHUP when its parent, the server, dies;
 *   - forks once and execs SHELL with ARGS (PATH search, environment inherited), with default
 *     signal dispositions and an empty signal mask, as gid then uid N when given and different
 *     from its own (supplementary groups are kept as inherited: the server sets them);
 *   - leaves the terminal to the shell (it ignores SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU:
 *     C-c is for the shell's foreground job) and reaps every child reparented to it;
 *   - when the shell exits, or on SIGTERM or SIGHUP (the server ends the session, the pty hangs
 *     up, the server died), SIGKILLs its whole subtree, found in /proc, in rounds until it has no
 *     child left (a process forked between a scan and the kill is orphaned by the kill, so it is
 *     reparented here and caught by the next round), for at most KILL_SECONDS;
 *   - exits as the shell did: its status, or its signal raised again (node-pty then reports that
 *     signal); 128+N when signal N told it to stop before the shell exited;
 *   - raises its oom_score_adj to SESSION_OOM_SCORE_ADJ (inherited by the shell and everything it
 *     starts), so that when memory runs out the kernel kills what the session runs, not the
 *     server: a fork bomb or a memory hog in a sandbox would otherwise take runtime-client down
 *     with it. Raising needs no privilege; a value already higher is kept.
 * Exit 2: bad usage. Exit 127: the shell could not be started (the reason is on stderr).
 * Linux only; needs /proc to find descendants. Built static by bundle/native.mjs (libc only).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILL_SECONDS 5
#define SESSION_OOM_SCORE_ADJ 500

static pid_t self;
static pid_t shell;
static int shell_status = -1; /* the shell's wait status once reaped; -1 while it runs */

static void usage(const char *why, const char *arg) {
  fprintf(stderr, "session-init: %s%s\nusage: session-init [--uid N --gid N] [--] SHELL [ARGS...]\n", why, arg ? arg : "");
  exit(2);
}

/* A uid or gid from the command line: decimal digits, below (uid_t)-1 (which means "unchanged"). */
static long id_of(const char *flag, const char *s) {
  char *end = NULL;
  errno = 0;
  unsigned long v = s && *s >= '0' && *s <= '9' ? strtoul(s, &end, 10) : 0;
  if (!end || *end || errno || v >= 0xffffffffUL) usage(flag, " needs a number from 0 to 4294967294");
  return (long)v;
}

/* Reaps every child that has ended; returns 0 once it has no child left. */
static int reap(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      if (pid == shell) shell_status = status;
    } else if (pid == 0) {
      return 1;
    } else if (errno != EINTR) {
      return 0; /* ECHILD */
    }
  }
}

/* The parent pid of process `pid`, or -1 when it is gone. */
static pid_t parent_of(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t len = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (len <= 0) return -1;
  buf[len] = 0;
  /* "pid (comm) state ppid ...": comm may hold anything, so start after its last ')'. */
  char *p = strrchr(buf, ')');
  int ppid;
  return p && sscanf(p + 1, " %*c %d", &ppid) == 1 ? ppid : -1;
}

struct proc { pid_t pid, ppid; };

static int by_ppid(const void *a, const void *b) {
  const struct proc *x = a, *y = b;
  return (x->ppid > y->ppid) - (x->ppid < y->ppid);
}

/* One round: scans /proc, SIGKILLs every descendant of this process, top down. */
static void kill_subtree(void) {
  DIR *dir = opendir("/proc");
  if (!dir) return;
  struct proc *procs = NULL;
  size_t n = 0, cap = 0;
  for (struct dirent *e; (e = readdir(dir));) {
    pid_t pid = e->d_name[0] >= '1' && e->d_name[0] <= '9' ? atoi(e->d_name) : 0;
    pid_t ppid = pid > 0 ? parent_of(pid) : -1;
    if (ppid <= 0) continue;
    if (n == cap) {
      struct proc *more = realloc(procs, (cap = cap ? 2 * cap : 1024) * sizeof *procs);
      if (!more) break; /* kill what was found; the next round sees the rest */
      procs = more;
    }
    procs[n++] = (struct proc){ pid, ppid };
  }
  closedir(dir);
  qsort(procs, n, sizeof *procs, by_ppid);
  /* Breadth first from this process; each scanned process enters the queue at most once. */
  pid_t *queue = malloc((n + 1) * sizeof *queue);
  size_t head = 0, tail = 0;
  if (queue) queue[tail++] = self;
  while (head < tail) {
    pid_t parent = queue[head++];
    size_t lo = 0, hi = n;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (procs[mid].ppid < parent) lo = mid + 1;
      else hi = mid;
    }
    for (; lo < n && procs[lo].ppid == parent && tail <= n; lo++) {
      queue[tail++] = procs[lo].pid;
      kill(procs[lo].pid, SIGKILL);
    }
  }
  free(queue);
  free(procs);
}

/* Kills the whole subtree in rounds and reaps it, until no child is left or KILL_SECONDS pass. */
static void end_session(void) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  long wait_ms = 1;
  for (;;) {
    if (!reap()) return; /* no child, so no descendant: the usual end needs no scan */
    kill_subtree();
    if (shell_status == -1) kill(shell, SIGKILL); /* even without /proc; unreaped, its pid is not reused */
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= KILL_SECONDS) {
      fprintf(stderr, "session-init: processes of the session still run after %d s of SIGKILL\n", KILL_SECONDS);
      return;
    }
    /* Wait for a death (or up to wait_ms) so a process stuck in the kernel costs no busy loop. */
    struct timespec ts = { 0, wait_ms * 1000000 };
    sigtimedwait(&chld, NULL, &ts);
    if (wait_ms < 128) wait_ms *= 2;
  }
}

/* Raises this process's oom_score_adj to SESSION_OOM_SCORE_ADJ unless it is higher already; quietly does nothing without /proc. */
static void prefer_for_oom_kill(void) {
  int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  char now[16] = { 0 };
  ssize_t n = read(fd, now, sizeof now - 1);
  if (n > 0 && atoi(now) < SESSION_OOM_SCORE_ADJ) {
    char value[16];
    int len = snprintf(value, sizeof value, "%d", SESSION_OOM_SCORE_ADJ);
    if (lseek(fd, 0, SEEK_SET) == 0 && write(fd, value, (size_t)len) != len) perror("session-init: oom_score_adj");
  }
  close(fd);
}

/* The forked child: becomes the shell. */
static void start_shell(char **argv, long uid, long gid) {
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL); /* fails harmlessly for SIGKILL, SIGSTOP */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (gid >= 0 && (getgid() != (gid_t)gid || getegid() != (gid_t)gid) && setgid((gid_t)gid) != 0) {
    fprintf(stderr, "session-init: setgid(%ld): %s\n", gid, strerror(errno));
    _exit(127);
  }
  if (uid >= 0 && (getuid() != (uid_t)uid || geteuid() != (uid_t)uid) && setuid((uid_t)uid) != 0) {
    fprintf(stderr, "session-init: setuid(%ld): %s\n", uid, strerror(errno));
    _exit(127);
  }
  execvp(argv[0], argv);
  fprintf(stderr, "session-init: cannot run %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

/* Ends this process the way the shell ended. */
static int exit_like(int status) {
  if (!WIFSIGNALED(status)) return WEXITSTATUS(status);
  int sig = WTERMSIG(status);
  struct rlimit no_core = { 0, 0 };
  setrlimit(RLIMIT_CORE, &no_core); /* the shell may have dumped core; this process need not */
  signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  sigprocmask(SIG_UNBLOCK, &one, NULL);
  raise(sig);
  return 128 + sig; /* still here: a signal that does not end a process by default */
}

int main(int argc, char **argv) {
  long uid = -1, gid = -1;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "--")) {
      i++;
      break;
    }
    if (!strcmp(argv[i], "--uid")) uid = id_of("--uid", argv[++i]);
    else if (!strcmp(argv[i], "--gid")) gid = id_of("--gid", argv[++i]);
    else usage("unknown option ", argv[i]);
  }
  if (i >= argc) usage("no SHELL given", NULL);
  if ((uid < 0) != (gid < 0)) usage("--uid and --gid go together", NULL);

  /* SIGCHLD, SIGTERM and SIGHUP are taken with sigwaitinfo, never by a handler. */
  sigset_t waited;
  sigemptyset(&waited);
  sigaddset(&waited, SIGCHLD);
  sigaddset(&waited, SIGTERM);
  sigaddset(&waited, SIGHUP);
  sigprocmask(SIG_BLOCK, &waited, NULL);
  self = getpid();
  pid_t parent = getppid();
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) perror("session-init: PR_SET_CHILD_SUBREAPER (setsid'd processes may outlive the session)");
  prctl(PR_SET_PDEATHSIG, SIGHUP);
  if (getppid() != parent) return 128 + SIGHUP; /* the server died before we asked */
  prefer_for_oom_kill();
  int ignored[] = { SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU };
  for (size_t k = 0; k < sizeof ignored / sizeof *ignored; k++) signal(ignored[k], SIG_IGN);

  shell = fork();
  if (shell < 0) {
    perror("session-init: fork");
    return 127;
  }
  if (shell == 0) start_shell(argv + i, uid, gid);

  int stop = 0;
  while (shell_status == -1 && !stop) {
    int sig = sigwaitinfo(&waited, NULL);
    if (sig == SIGTERM || sig == SIGHUP) stop = sig;
    reap();
  }
  end_session();
  return stop ? 128 + stop : exit_like(shell_status);
}
