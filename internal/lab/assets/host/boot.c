/* sparkform lab: one boot of one host. Runs as PID 1 of fresh mount+uts+pid namespaces (unshare)
 * and builds the host's world: overlay root, its own /proc with /proc/sys read-only except a
 * writable /proc/sys/vm, fresh /run, private /dev, a /sys with NVMe queue attributes, the lab's
 * artifacts read-only, then the kernel the GRUB stand-in picks, a new boot_id, and the host's init.
 * Every mount dies with the namespace: nothing is left to undo on the real machine.
 *
 * It is C, not a shell script, because process creation is what a boot costs: a shell version
 * ran ~45 programs (mount, mknod, ln, ...) per boot, and on a VM where fork+exec costs ~5 ms that
 * made 20 hosts take 10 s to come up. Usage: boot HOSTDIR (HOSTDIR/host.env holds the settings). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static char H[4000], M[4096];
static char NAME[256], IMAGE[4096], ART[4096], DISKS[1024];
static int PANIC_SECS = 4;

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "boot: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, ": %s\n", strerror(errno));
    va_end(ap);
    exit(1);
}

static const char *p(const char *fmt, ...) { /* a path under the merged root, or any path */
    static char buf[8][4096];
    static int n;
    char *b = buf[n++ % 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, 4096, fmt, ap);
    va_end(ap);
    return b;
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
    if (mount(src, dst, type, flags, data) != 0) die("mount %s on %s", type ? type : src, dst);
}

static void put(const char *path, const char *content) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die("create %s", path);
    size_t len = strlen(content);
    if (write(fd, content, len) != (ssize_t)len) die("write %s", path);
    close(fd);
}

static void mkdirs(const char *path, mode_t mode) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *s = tmp + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            mkdir(tmp, 0755);
            *s = '/';
        }
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST) die("mkdir %s", path);
}

/* host.env: KEY=VALUE lines written by the lab; values may be 'single' (with '\'' escapes)
   or "double" quoted. */
static void unquote(char *v) {
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        memmove(v, v + 1, n - 2);
        v[n - 2] = 0;
    } else if (n >= 2 && v[0] == '\'') {
        char *o = v;
        for (char *i = v + 1; *i; i++) {
            if (i[0] == '\'' && i[1] == '\\' && i[2] == '\'' && i[3] == '\'') { *o++ = '\''; i += 3; continue; }
            if (*i == '\'') continue;
            *o++ = *i;
        }
        *o = 0;
    }
}

static void load_env(void) {
    FILE *f = fopen(p("%s/host.env", H), "r");
    if (!f) die("open %s/host.env", H);
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        char *v = eq + 1;
        unquote(v);
        if (!strcmp(line, "NAME")) snprintf(NAME, sizeof NAME, "%s", v);
        else if (!strcmp(line, "IMAGE")) snprintf(IMAGE, sizeof IMAGE, "%s", v);
        else if (!strcmp(line, "ART")) snprintf(ART, sizeof ART, "%s", v);
        else if (!strcmp(line, "DISKS")) snprintf(DISKS, sizeof DISKS, "%s", v);
        else if (!strcmp(line, "PANIC_SECS")) PANIC_SECS = atoi(v);
    }
    fclose(f);
    if (!NAME[0] || !IMAGE[0] || !ART[0]) { errno = EINVAL; die("host.env lacks NAME, IMAGE or ART"); }
}

/* /proc/sys/vm: a tmpfs seeded from the real values, so a host's sysctl -w changes only its own. */
static void seed_vm(void) {
    mnt("sparkform-lab-vm", p("%s/proc/sys/vm", M), "tmpfs", 0, "size=1m,mode=755");
    DIR *d = opendir("/proc/sys/vm");
    if (!d) die("opendir /proc/sys/vm");
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char buf[4096] = "";
        int fd = open(p("/proc/sys/vm/%s", e->d_name), O_RDONLY | O_CLOEXEC);
        if (fd >= 0) { /* write-only ones (drop_caches) stay empty */
            ssize_t r = read(fd, buf, sizeof buf - 1);
            buf[r > 0 ? r : 0] = 0;
            close(fd);
        }
        put(p("%s/proc/sys/vm/%s", M, e->d_name), buf);
    }
    closedir(d);
}

static void make_dev(void) {
    mnt("sparkform-lab-dev", p("%s/dev", M), "tmpfs", 0, "mode=755,size=1m");
    struct { const char *name; int maj, min; } nodes[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        const char *path = p("%s/dev/%s", M, nodes[i].name);
        if (mknod(path, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) != 0) die("mknod %s", path);
        chmod(path, 0666); /* mknod honours the umask */
    }
    mkdirs(p("%s/dev/pts", M), 0755);
    mkdirs(p("%s/dev/shm", M), 0755);
    mnt("devpts", p("%s/dev/pts", M), "devpts", 0, "newinstance,ptmxmode=0666,mode=620,gid=5");
    struct { const char *target, *name; } links[] = {
        {"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
        {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        if (symlink(links[i].target, p("%s/dev/%s", M, links[i].name)) != 0) die("symlink /dev/%s", links[i].name);
    mnt("sparkform-lab-shm", p("%s/dev/shm", M), "tmpfs", 0, "mode=1777,size=64m");
}

/* /sys: only what a provisioner touches: block queue attributes and transparent hugepages. */
static void make_sys(void) {
    mnt("sparkform-lab-sys", p("%s/sys", M), "tmpfs", 0, "mode=755,size=1m");
    char disks[1024];
    snprintf(disks, sizeof disks, "%s", DISKS);
    for (char *save, *d = strtok_r(disks, " ", &save); d; d = strtok_r(NULL, " ", &save)) {
        const char *q = p("%s/sys/block/%s/queue", M, d);
        mkdirs(q, 0755);
        put(p("%s/read_ahead_kb", q), "128\n");
        put(p("%s/rotational", q), "0\n");
        put(p("%s/nr_requests", q), "1023\n");
        put(p("%s/scheduler", q), "[none] mq-deadline\n");
        put(p("%s/max_sectors_kb", q), "1280\n");
        put(p("%s/logical_block_size", q), "512\n");
        put(p("%s/physical_block_size", q), "4096\n");
    }
    const char *t = p("%s/sys/kernel/mm/transparent_hugepage", M);
    mkdirs(t, 0755);
    put(p("%s/enabled", t), "always [madvise] never\n");
    put(p("%s/defrag", t), "always defer defer+madvise [madvise] never\n");
}

/* The kernel GRUB boots: asks the GRUB stand-in inside the host (it consumes next_entry). */
static void grub_boot(char *krel, size_t n) {
    int fds[2];
    if (pipe(fds) != 0) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (chroot(M) != 0 || chdir("/") != 0) die("chroot %s", M);
        execl("/usr/local/lib/sparkform-lab/grub-boot", "grub-boot", (char *)NULL);
        die("exec grub-boot");
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while (got < n - 1 && (r = read(fds[0], krel + got, n - 1 - got)) > 0) got += r;
    krel[got] = 0;
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    krel[strcspn(krel, "\n")] = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !krel[0]) { errno = EIO; die("grub-boot chose no kernel"); }
}

static int fails_to_boot(const char *krel) {
    char buf[4096];
    int fd = open(p("%s/boot/vmlinuz-%s", M, krel), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1; /* no such kernel: GRUB cannot load it either */
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[r > 0 ? r : 0] = 0;
    return strstr(buf, "sparkform-lab: fails-to-boot") != NULL;
}

static void bind_ro(const char *src, const char *dst) {
    mnt(src, dst, NULL, MS_BIND, NULL);
    mnt(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: boot HOSTDIR\n"); return 2; }
    snprintf(H, sizeof H, "%s", argv[1]);
    snprintf(M, sizeof M, "%s/merged", H);
    load_env();

    mnt("overlay", M, "overlay", 0, p("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", IMAGE, H, H));
    /* /proc of this pid namespace, with /proc/sys read-only except the faked parts */
    mnt("proc", p("%s/proc", M), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    bind_ro(p("%s/proc/sys", M), p("%s/proc/sys", M));
    seed_vm();
    /* /run is a fresh tmpfs every boot, like on a real host */
    mnt("sparkform-lab-run", p("%s/run", M), "tmpfs", 0, "mode=755,size=16m");
    mkdirs(p("%s/run/sshd", M), 0755);
    mkdirs(p("%s/run/lock", M), 0755);
    mkdirs(p("%s/run/.lab", M), 0755);
    make_dev();
    make_sys();
    bind_ro(p("%s/repo", ART), p("%s/srv/repo", M));
    bind_ro(p("%s/wheels", ART), p("%s/srv/wheels", M));
    bind_ro(p("%s/git", ART), p("%s/srv/git", M));
    if (sethostname(NAME, strlen(NAME)) != 0) die("sethostname");

    char krel[256], bootid[64] = "";
    grub_boot(krel, sizeof krel);
    int fd = open("/proc/sys/kernel/random/uuid", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, bootid, 36) != 36) die("read a new boot_id");
    close(fd);
    bootid[36] = 0;
    char booted[4200], booted_new[4200], state[512];
    snprintf(booted, sizeof booted, "%s/booted", H);
    snprintf(booted_new, sizeof booted_new, "%s/booted.new", H);
    if (fails_to_boot(krel)) {
        /* This kernel "panics" early: no sshd, then a reboot (panic=N), as a real host would. */
        snprintf(state, sizeof state, "KERNEL=%s\nBOOT_ID=%s\nSTATE=panic\n", krel, bootid);
        put(booted_new, state);
        rename(booted_new, booted);
        printf("Kernel panic - not syncing: VFS: Unable to mount root fs (%s); rebooting in %ds\n", krel, PANIC_SECS);
        fflush(stdout);
        sleep(PANIC_SECS);
        return 10;
    }
    snprintf(state, sizeof state, "KERNEL=%s\nBOOT_ID=%s\n", krel, bootid);
    put(booted_new, state);
    if (rename(booted_new, booted) != 0) die("rename %s", booted_new);

    /* identity of this boot, as the kernel would report it */
    put(p("%s/run/.lab/boot_id", M), p("%s\n", bootid));
    put(p("%s/run/.lab/osrelease", M), p("%s\n", krel));
    put(p("%s/run/.lab/version", M), "#1 SMP PREEMPT_DYNAMIC Thu Jan 15 10:00:00 UTC 2026\n");
    put(p("%s/run/.lab/proc_version", M), p("Linux version %s (buildd@lab) (gcc (Ubuntu 13.3.0-6ubuntu2~24.04) 13.3.0, GNU ld 2.42) #1 SMP PREEMPT_DYNAMIC Thu Jan 15 10:00:00 UTC 2026\n", krel));
    bind_ro(p("%s/run/.lab/boot_id", M), p("%s/proc/sys/kernel/random/boot_id", M));
    bind_ro(p("%s/run/.lab/osrelease", M), p("%s/proc/sys/kernel/osrelease", M));
    bind_ro(p("%s/run/.lab/version", M), p("%s/proc/sys/kernel/version", M));
    bind_ro(p("%s/run/.lab/proc_version", M), p("%s/proc/version", M));

    if (chroot(M) != 0 || chdir("/") != 0) die("chroot %s", M);
    char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=linux", "LANG=C.UTF-8", NULL};
    char *args[] = {"/sbin/init", NULL};
    execve("/sbin/init", args, envp);
    die("exec /sbin/init");
}
