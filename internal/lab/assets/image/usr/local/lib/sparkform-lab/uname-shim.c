/* sparkform lab STAND-IN for the booted kernel's uname(2): listed in /etc/ld.so.preload, it makes
   uname() report /proc/sys/kernel/osrelease and /proc/sys/kernel/version, which the lab's boot
   script bind-mounts per boot. Statically linked programs still see the real kernel. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

static void rd(const char *path, char *dst, size_t n) {
    char buf[_UTSNAME_LENGTH];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) return;
    while (r > 0 && (buf[r - 1] == '\n' || buf[r - 1] == ' ')) r--;
    buf[r] = 0;
    strncpy(dst, buf, n - 1);
    dst[n - 1] = 0;
}

int uname(struct utsname *u) {
    long r = syscall(SYS_uname, u);
    if (r != 0) return (int)r;
    rd("/proc/sys/kernel/osrelease", u->release, sizeof u->release);
    rd("/proc/sys/kernel/version", u->version, sizeof u->version);
    return 0;
}
