/* sparkform lab STAND-IN for llama.cpp's llama-server. It parses the flags of the release it stands
 * for (builds < 10884 have --no-mmap/--mlock, later ones -lm/--load-mode instead), really loads the
 * model file (mmap and touch every page, or read() it all), logs like llama-server, and serves
 * GET /health until killed. No inference. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NEW_LOAD_MODE (LLAMA_BUILD_NUMBER >= 10884)

static void print_version(void) {
#if NEW_LOAD_MODE
    fprintf(stderr, "version: 0.4.1-dev (build %d, commit %s)\n", LLAMA_BUILD_NUMBER, LLAMA_COMMIT);
#else
    fprintf(stderr, "version: %d (%s)\n", LLAMA_BUILD_NUMBER, LLAMA_COMMIT);
#endif
    fprintf(stderr, "built with %s for %s\n", LLAMA_COMPILER, LLAMA_BUILD_TARGET);
    if (LLAMA_CUDA_INFO[0]) fprintf(stderr, "ggml_cuda: built with %s\n", LLAMA_CUDA_INFO);
}

static void usage(void) {
    printf("----- common params -----\n\n");
    printf("-h,    --help, --usage                    print usage and exit\n");
    printf("--version                                show version and build info\n");
    printf("-t,    --threads N                        number of threads to use during generation\n");
    printf("-c,    --ctx-size N                       size of the prompt context (default: 4096)\n");
    printf("-fa,   --flash-attn [on|off|auto]         set Flash Attention use ('on', 'off', or 'auto', default: 'auto')\n");
#if NEW_LOAD_MODE
    printf("-lm,   --load-mode {auto,none,mmap,mlock,mmap+mlock,dio}\n");
    printf("                                         how to load the model: auto avoids mmap on integrated GPUs\n");
    printf("                                         (default: auto)\n");
#else
    printf("--mlock                                  force system to keep model in RAM rather than swapping\n");
    printf("--no-mmap                                do not memory-map model (slower load but may reduce\n");
    printf("                                         pageouts if not using mlock)\n");
#endif
    printf("-ngl,  --gpu-layers, --n-gpu-layers N     max. number of layers to store in VRAM\n");
    printf("-m,    --model FNAME                      model path to load\n");
    printf("-a,    --alias STRING                     set alias for model name\n");
    printf("--jinja                                  use jinja template for chat\n");
    printf("--host HOST                              ip address to listen on (default: 127.0.0.1)\n");
    printf("--port PORT                              port to listen (default: 8080)\n");
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Loads the whole file the way the mode says; returns a checksum so the work cannot be skipped. */
static int load_model(const char *path, const char *mode, uint64_t *sum) {
    char magic[5] = {0};
    int mfd = open(path, O_RDONLY);
    if (mfd < 0) {
        fprintf(stderr, "gguf_init_from_file: failed to open GGUF file '%s' (%s)\n", path, strerror(errno));
        return -1;
    }
    if (pread(mfd, magic, 4, 0) != 4) magic[0] = 0;
    close(mfd);
    if (memcmp(magic, "GGUF", 4) != 0) {
        fprintf(stderr, "gguf_init_from_file_impl: invalid magic characters: '%s', expected 'GGUF'\n", magic);
        return -1;
    }
    int dio = strcmp(mode, "dio") == 0;
    int fd = open(path, O_RDONLY | (dio ? O_DIRECT : 0));
    if (fd < 0 && dio) fd = open(path, O_RDONLY); /* O_DIRECT unsupported here: buffered reads */
    if (fd < 0) {
        fprintf(stderr, "gguf_init_from_file: failed to open GGUF file '%s' (%s)\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    fstat(fd, &st);
    fprintf(stderr, "llama_model_loader: loaded meta data from %s (version GGUF V3 (latest))\n", path);
    int use_mmap = strcmp(mode, "mmap") == 0 || strcmp(mode, "mlock") == 0 || strcmp(mode, "mmap+mlock") == 0;
    fprintf(stderr, "load_tensors: loading model tensors, this can take a while... (mmap = %s, direct_io = %s)\n",
            use_mmap ? "true" : "false", dio ? "true" : "false");
    uint64_t s = 0;
    long page = sysconf(_SC_PAGESIZE);
    if (use_mmap && st.st_size > 0) {
        unsigned char *p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            fprintf(stderr, "llama_model_load: mmap failed: %s\n", strerror(errno));
            close(fd);
            return -1;
        }
        if (strstr(mode, "mlock") && mlock(p, st.st_size) != 0)
            fprintf(stderr, "warning: failed to mlock %lld-byte buffer: %s\n", (long long)st.st_size, strerror(errno));
        for (off_t i = 0; i < st.st_size; i += page) s += p[i];
        /* stays mapped for the server's lifetime, like the real one */
    } else {
        size_t bs = 1 << 20;
        unsigned char *buf;
        if (posix_memalign((void **)&buf, 4096, bs) != 0) return -1;
        ssize_t r;
        while ((r = read(fd, buf, bs)) > 0)
            for (ssize_t i = 0; i < r; i += 512) s += buf[i];
        if (r < 0) {
            fprintf(stderr, "llama_model_load: read error: %s\n", strerror(errno));
            close(fd);
            return -1;
        }
        free(buf);
    }
    close(fd);
    *sum = s;
    fprintf(stderr, "load_tensors:          CPU model buffer size = %8.2f MiB\n", st.st_size / 1048576.0);
    return 0;
}

static int need(int i, int argc, char **argv) {
    if (i + 1 >= argc) {
        fprintf(stderr, "error: expected value for argument: %s\n", argv[i]);
        exit(1);
    }
    return i + 1;
}

int main(int argc, char **argv) {
    const char *model = NULL, *host = "127.0.0.1";
    int port = 8080;
#if NEW_LOAD_MODE
    const char *mode = "auto";
#else
    const char *mode = "mmap";
#endif
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "--usage")) { usage(); return 0; }
        else if (!strcmp(a, "--version")) { print_version(); return 0; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { i = need(i, argc, argv); model = argv[i]; }
        else if (!strcmp(a, "--host")) { i = need(i, argc, argv); host = argv[i]; }
        else if (!strcmp(a, "--port")) { i = need(i, argc, argv); port = atoi(argv[i]); }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads") || !strcmp(a, "-c") || !strcmp(a, "--ctx-size") ||
                 !strcmp(a, "-ngl") || !strcmp(a, "--gpu-layers") || !strcmp(a, "--n-gpu-layers") ||
                 !strcmp(a, "-a") || !strcmp(a, "--alias")) { i = need(i, argc, argv); }
        else if (!strcmp(a, "-fa") || !strcmp(a, "--flash-attn")) {
            if (i + 1 < argc && (!strcmp(argv[i + 1], "on") || !strcmp(argv[i + 1], "off") || !strcmp(argv[i + 1], "auto"))) i++;
        }
        else if (!strcmp(a, "--jinja")) { }
#if NEW_LOAD_MODE
        else if (!strcmp(a, "-lm") || !strcmp(a, "--load-mode")) {
            i = need(i, argc, argv);
            const char *m = argv[i];
            if (strcmp(m, "auto") && strcmp(m, "none") && strcmp(m, "mmap") && strcmp(m, "mlock") &&
                strcmp(m, "mmap+mlock") && strcmp(m, "dio")) {
                fprintf(stderr, "error: invalid load mode: %s\n", m);
                return 1;
            }
            mode = m;
        }
#else
        else if (!strcmp(a, "--no-mmap")) { mode = "none"; }
        else if (!strcmp(a, "--mlock")) { mode = "mmap+mlock"; }
#endif
        else {
            fprintf(stderr, "error: invalid argument: %s\n", a);
            return 1;
        }
    }
#if NEW_LOAD_MODE
    if (!strcmp(mode, "auto")) mode = LLAMA_CUDA_INFO[0] ? "none" : "mmap"; /* no mmap on an integrated GPU */
#endif
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stderr, NULL, _IONBF, 0);
    fprintf(stderr, "build: %d (%s) with %s for %s\n", LLAMA_BUILD_NUMBER, LLAMA_COMMIT, LLAMA_COMPILER, LLAMA_BUILD_TARGET);
    fprintf(stderr, "system info: n_threads = %ld | CPU : SSE3 = 1 | AVX = 1 |\n", sysconf(_SC_NPROCESSORS_ONLN));
    if (!model) {
        fprintf(stderr, "error: no model given (-m FNAME)\n");
        return 1;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s, 64) != 0) {
        fprintf(stderr, "main: couldn't bind HTTP server socket, hostname: %s, port: %d\n", host, port);
        return 1;
    }
    fprintf(stderr, "main: binding port with default address family\n");
#if !NEW_LOAD_MODE
    /* older servers announce the listening socket before the model is loaded */
    fprintf(stderr, "main: HTTP server is listening, hostname: %s, port: %d, http threads: 1\n", host, port);
#endif
    fprintf(stderr, "main: loading model\n");
    double t0 = now_ms();
    uint64_t sum = 0;
    if (load_model(model, mode, &sum) != 0) {
        fprintf(stderr, "main: exiting due to model loading error\n");
        return 1;
    }
    fprintf(stderr, "llama_model_load: model loaded in %.2f ms (checksum %llu)\n", now_ms() - t0, (unsigned long long)sum);
    fprintf(stderr, "main: model loaded\n");
    fprintf(stderr, "main: server is listening on http://%s:%d - starting the main loop\n", host, port);
    fprintf(stderr, "srv  update_slots: all slots are idle\n");
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        char req[2048];
        ssize_t n = read(c, req, sizeof req - 1);
        if (n > 0) {
            req[n] = 0;
            const char *body;
            const char *status;
            if (!strncmp(req, "GET /health ", 12) || !strncmp(req, "GET /health?", 12)) {
                status = "200 OK"; body = "{\"status\":\"ok\"}";
            } else {
                status = "404 Not Found"; body = "{\"error\":{\"code\":404,\"message\":\"File Not Found\",\"type\":\"not_found_error\"}}";
            }
            char resp[512];
            int len = snprintf(resp, sizeof resp,
                               "HTTP/1.1 %s\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                               status, strlen(body), body);
            if (write(c, resp, len) < 0) { }
        }
        close(c);
    }
}
