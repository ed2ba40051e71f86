/* sparkform lab: the WAN between the controller and a lab's hosts. Every IPv4 packet between the
 * controller and the lab's subnet is queued to this program (iptables NFQUEUE, both directions)
 * and let through DELAY microseconds after it arrived, so each direction gets a one-way delay
 * and a round trip costs 2*DELAY. The kernel has no netem (and no fq/etf qdisc to delay by
 * departure time), so the delay is done here: the kernel holds the packets, this program only
 * decides when each one goes.
 *
 * Packets keep their order: the delay is the same for all, so the queue is FIFO and one batch
 * verdict ("accept every packet up to id N") releases everything that is due. Only metadata is
 * copied to user space (NFQNL_COPY_META). If the queue overflows the kernel lets packets through
 * undelayed (FAIL_OPEN) rather than dropping them; if this program is not running, the
 * --queue-bypass rule lets them through too. Usage: delayd QUEUE DELAY_US */
#define _GNU_SOURCE
#include <arpa/inet.h> /* before the linux headers: glibc's netinet/in.h must come first */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RING (1u << 20)

static struct { uint32_t id; uint64_t due; } ring[RING];
static unsigned head, tail; /* entries head..tail-1 are pending */
static int fd;
static uint16_t queue;
static uint32_t seq;

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what) {
    fprintf(stderr, "delayd: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* msg builds one nfnetlink message of type t into buf; attributes are appended with attr. */
static struct nlmsghdr *msg(char *buf, int t, int flags) {
    struct nlmsghdr *nh = (struct nlmsghdr *)buf;
    memset(buf, 0, NLMSG_SPACE(sizeof(struct nfgenmsg)));
    nh->nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg));
    nh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | t;
    nh->nlmsg_flags = NLM_F_REQUEST | flags;
    nh->nlmsg_seq = ++seq;
    struct nfgenmsg *g = NLMSG_DATA(nh);
    g->nfgen_family = AF_UNSPEC;
    g->version = NFNETLINK_V0;
    g->res_id = htons(queue);
    return nh;
}

static void attr(struct nlmsghdr *nh, int type, const void *data, int len) {
    struct nlattr *a = (struct nlattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));
    a->nla_type = type;
    a->nla_len = NLA_HDRLEN + len;
    memcpy((char *)a + NLA_HDRLEN, data, len);
    nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static void send_msg(struct nlmsghdr *nh) {
    struct sockaddr_nl to = {.nl_family = AF_NETLINK};
    while (sendto(fd, nh, nh->nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) < 0)
        if (errno != EINTR) die("send to netlink");
}

/* configure sends a config message and waits for its acknowledgement. */
static void configure(struct nlmsghdr *nh) {
    send_msg(nh);
    char buf[8192];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("configure queue");
        }
        for (struct nlmsghdr *r = (struct nlmsghdr *)buf; NLMSG_OK(r, n); r = NLMSG_NEXT(r, n)) {
            if (r->nlmsg_type == NLMSG_ERROR && r->nlmsg_seq == nh->nlmsg_seq) {
                struct nlmsgerr *e = NLMSG_DATA(r);
                if (e->error) {
                    errno = -e->error;
                    die("configure queue");
                }
                return;
            }
        }
    }
}

/* release accepts every pending packet that is due. */
static void release(uint64_t now) {
    uint32_t last = 0;
    int any = 0;
    while (head != tail && ring[head % RING].due <= now) {
        last = ring[head % RING].id;
        head++;
        any = 1;
    }
    if (!any) return;
    char buf[256];
    struct nlmsghdr *nh = msg(buf, NFQNL_MSG_VERDICT_BATCH, 0);
    struct nfqnl_msg_verdict_hdr v = {.verdict = htonl(NF_ACCEPT), .id = htonl(last)};
    attr(nh, NFQA_VERDICT_HDR, &v, sizeof v);
    send_msg(nh);
}

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: delayd QUEUE DELAY_US\n");
        return 2;
    }
    queue = (uint16_t)atoi(argv[1]);
    uint64_t delay = strtoull(argv[2], NULL, 10);
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) die("netlink socket");
    int big = 16 << 20, one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
    struct sockaddr_nl local = {.nl_family = AF_NETLINK};
    if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) die("bind netlink");

    char buf[256];
    struct nlmsghdr *nh = msg(buf, NFQNL_MSG_CONFIG, NLM_F_ACK);
    struct nfqnl_msg_config_cmd cmd = {.command = NFQNL_CFG_CMD_BIND, .pf = htons(AF_INET)};
    attr(nh, NFQA_CFG_CMD, &cmd, sizeof cmd);
    configure(nh);
    nh = msg(buf, NFQNL_MSG_CONFIG, NLM_F_ACK);
    struct nfqnl_msg_config_params params = {.copy_range = 0, .copy_mode = NFQNL_COPY_META};
    attr(nh, NFQA_CFG_PARAMS, &params, sizeof params);
    uint32_t maxlen = htonl(RING / 2);
    attr(nh, NFQA_CFG_QUEUE_MAXLEN, &maxlen, sizeof maxlen);
    uint32_t flags = htonl(NFQA_CFG_F_FAIL_OPEN), mask = htonl(NFQA_CFG_F_FAIL_OPEN);
    attr(nh, NFQA_CFG_FLAGS, &flags, sizeof flags);
    attr(nh, NFQA_CFG_MASK, &mask, sizeof mask);
    configure(nh);
    fprintf(stderr, "delayd: queue %u, one-way delay %llu us\n", queue, (unsigned long long)delay);

    static char rbuf[1 << 16];
    while (!stop) {
        uint64_t now = now_us();
        release(now);
        struct timespec ts, *tp = NULL;
        if (head != tail) {
            uint64_t wait = ring[head % RING].due - now;
            ts.tv_sec = wait / 1000000;
            ts.tv_nsec = (wait % 1000000) * 1000;
            tp = &ts;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = ppoll(&pfd, 1, tp, NULL);
        if (r < 0 && errno != EINTR) die("poll");
        if (r <= 0) continue;
        for (;;) {
            ssize_t n = recv(fd, rbuf, sizeof rbuf, MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) break;
                if (errno == ENOBUFS) continue;
                die("receive from netlink");
            }
            uint64_t due = now_us() + delay;
            for (struct nlmsghdr *m = (struct nlmsghdr *)rbuf; NLMSG_OK(m, n); m = NLMSG_NEXT(m, n)) {
                if (m->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) continue;
                int alen = m->nlmsg_len - NLMSG_SPACE(sizeof(struct nfgenmsg));
                struct nlattr *a = (struct nlattr *)((char *)NLMSG_DATA(m) + NLMSG_ALIGN(sizeof(struct nfgenmsg)));
                while (alen >= (int)NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= alen) {
                    if ((a->nla_type & NLA_TYPE_MASK) == NFQA_PACKET_HDR) {
                        struct nfqnl_msg_packet_hdr *ph = (struct nfqnl_msg_packet_hdr *)((char *)a + NLA_HDRLEN);
                        if (tail - head < RING) {
                            ring[tail % RING].id = ntohl(ph->packet_id);
                            ring[tail % RING].due = due;
                            tail++;
                        }
                        break;
                    }
                    alen -= NLA_ALIGN(a->nla_len);
                    a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len));
                }
            }
        }
    }
    /* let everything pending through before going (the kernel would drop it on unbind) */
    release(UINT64_MAX);
    return 0;
}
