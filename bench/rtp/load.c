/*
 * RTP load helper for `npm run bench:rtp`, compiled by bench/rtp.ts with `cc -O2`.
 *
 * Drives N relay sessions with two G.711-like streams each (50 packets/s, 172 bytes):
 * socket A sends to every session's a-port, socket B to every b-port. The relay latches A
 * as each session's caller and B as its callee, so everything it forwards comes back to A or
 * B. Two sockets and sendmmsg/recvmmsg keep the load tool far cheaper per packet than the
 * relay it measures (docs/testing.md "Benchmarks": a Node load tool saturates first).
 *
 * Payload after the 12-byte RTP header: send time (CLOCK_MONOTONIC ns), stream id, and a
 * "measured" flag, so one-way latency and loss are computed per packet on receipt.
 *
 * usage: load BIND_HOST DEST_HOST BASEPORT WARMUP_S MEASURE_S [RAMP_S] < ports   (stdin: "A B" per line)
 * prints one JSON line with sent/received/loss and latency percentiles of the measured window.
 * WARMUP_S < 0: the measured window starts on SIGUSR1 (the bench sends it once the relay is
 * ready, e.g. every session offloaded), or after 120 s at the latest.
 * RAMP_S > 0: calls start one after another over that many seconds (as calls arrive in life)
 * instead of all in the first 20 ms.
 * LOAD_LATE=FILE (diagnosis): every measured packet later than LOAD_LATE_US (default 1000 µs) is
 * written there, one line "send_ns latency_us stream" (CLOCK_MONOTONIC, the clock Node's
 * process.hrtime uses), at most 200000, so the relay's own records (bench/rtp/probe.mjs) line
 * up with the spikes this tool saw.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PKT 172
#define INTERVAL_NS 20000000ULL /* 50 packets/s */
#define BATCH 256
#define HIST_US 2000000 /* 1 µs buckets up to 2 s */
#define MAX_SESS 20000

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int mksock(const char *host, int port) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int sz = 16 << 20;
  if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) < 0) setsockopt(s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0) setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, host, &a.sin_addr);
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
    perror("bind");
    exit(1);
  }
  return s;
}

static volatile sig_atomic_t go;
static void on_usr1(int sig) {
  (void)sig;
  go = 1;
}

static uint32_t *hist;
static uint64_t sent_m, recv_m, recv_all, late_max_us;

#define LATE_MAX 200000
static uint64_t late_us_min = 1000, n_late;
static struct late { uint64_t sent_ns; uint32_t us; int32_t stream; } *late;

static void drain(int s) {
  static struct mmsghdr msgs[BATCH];
  static struct iovec iov[BATCH];
  static unsigned char bufs[BATCH][256];
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = sizeof bufs[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = NULL;
    msgs[i].msg_hdr.msg_namelen = 0;
  }
  for (int rounds = 0; rounds < 64; rounds++) {
    int n = recvmmsg(s, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    uint64_t t = now_ns();
    for (int i = 0; i < n; i++) {
      if (msgs[i].msg_len < 32) continue;
      recv_all++;
      uint64_t ts;
      memcpy(&ts, bufs[i] + 12, 8);
      if (!bufs[i][24]) continue;
      recv_m++;
      uint64_t us = (t - ts) / 1000;
      if (us > late_max_us) late_max_us = us;
      hist[us < HIST_US ? us : HIST_US - 1]++;
      if (late && us >= late_us_min && n_late < LATE_MAX) {
        int32_t stream;
        memcpy(&stream, bufs[i] + 20, 4);
        late[n_late++] = (struct late){ts, (uint32_t)us, stream};
      }
    }
  }
}

static uint64_t pct(double p) {
  uint64_t want = (uint64_t)(p * recv_m), acc = 0;
  for (uint64_t i = 0; i < HIST_US; i++) {
    acc += hist[i];
    if (acc > want) return i;
  }
  return HIST_US;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: load BIND_HOST DEST_HOST BASEPORT WARMUP_S MEASURE_S < ports\n");
    return 2;
  }
  const char *bind_host = argv[1], *host = argv[2];
  int base = atoi(argv[3]);
  double warm = atof(argv[4]), meas = atof(argv[5]), ramp = argc > 6 ? atof(argv[6]) : 0;
  signal(SIGUSR1, on_usr1);
  static int pa[MAX_SESS], pb[MAX_SESS];
  int n = 0;
  while (n < MAX_SESS && scanf("%d %d", &pa[n], &pb[n]) == 2) n++;
  hist = calloc(HIST_US, sizeof *hist);
  const char *late_file = getenv("LOAD_LATE");
  if (late_file) {
    late = calloc(LATE_MAX, sizeof *late);
    if (getenv("LOAD_LATE_US")) late_us_min = strtoull(getenv("LOAD_LATE_US"), NULL, 10);
  }
  int sa = mksock(bind_host, base), sb = mksock(bind_host, base + 2);
  int streams = 2 * n;
  struct sockaddr_in *dst = calloc(streams, sizeof *dst);
  uint64_t *next = calloc(streams, sizeof *next);
  uint16_t *seq = calloc(streams, sizeof *seq);
  uint64_t *start = calloc(streams, sizeof *start);
  uint64_t t0 = now_ns();
  for (int i = 0; i < streams; i++) {
    dst[i].sin_family = AF_INET;
    dst[i].sin_port = htons(i % 2 ? pb[i / 2] : pa[i / 2]);
    inet_pton(AF_INET, host, &dst[i].sin_addr);
    next[i] = t0 + (INTERVAL_NS * i) / streams; /* spread evenly over 20 ms */
    start[i] = t0 + (uint64_t)(ramp * 1e9 * (i / 2) / n);
  }
  const uint64_t never = UINT64_MAX / 2;
  uint64_t t_meas = warm < 0 ? never : t0 + (uint64_t)(warm * 1e9);
  uint64_t t_end = warm < 0 ? never : t_meas + (uint64_t)(meas * 1e9);
  uint64_t t_stop = warm < 0 ? never : t_end + 500000000ULL; /* drain late packets */
  static struct mmsghdr mA[BATCH], mB[BATCH];
  static struct iovec ivA[BATCH], ivB[BATCH];
  static unsigned char bA[BATCH][PKT], bB[BATCH][PKT];
  uint64_t behind_max = 0;
  int cursor = 0;
  for (;;) {
    uint64_t t = now_ns();
    if (t_meas == never && (go || t - t0 > 120000000000ULL)) {
      t_meas = t;
      t_end = t_meas + (uint64_t)(meas * 1e9);
      t_stop = t_end + 500000000ULL;
    }
    if (t >= t_stop) break;
    int na = 0, nb = 0;
    if (t < t_end) {
      /* Streams are due in index order within each 20 ms cycle: scan from the cursor. */
      for (int k = 0; k < streams && na < BATCH && nb < BATCH; k++) {
        int i = cursor;
        if (next[i] > t) break;
        if (next[i] < start[i]) { /* this call has not started yet: keep its slot in the cycle */
          next[i] += INTERVAL_NS;
          cursor = (cursor + 1) % streams;
          continue;
        }
        if (t - next[i] > behind_max) behind_max = t - next[i];
        int isb = i % 2;
        unsigned char *p = isb ? bB[nb] : bA[na];
        memset(p, 0, PKT);
        p[0] = 0x80;
        p[2] = seq[i] >> 8;
        p[3] = seq[i] & 0xff;
        uint32_t ts = htonl((uint32_t)seq[i] * 160), ssrc = htonl((uint32_t)i);
        memcpy(p + 4, &ts, 4);
        memcpy(p + 8, &ssrc, 4);
        uint64_t now = now_ns();
        memcpy(p + 12, &now, 8);
        memcpy(p + 20, &i, 4);
        p[24] = (next[i] >= t_meas && next[i] < t_end) ? 1 : 0;
        if (p[24]) sent_m++;
        seq[i]++;
        next[i] += INTERVAL_NS;
        struct mmsghdr *m = isb ? &mB[nb] : &mA[na];
        struct iovec *iv = isb ? &ivB[nb] : &ivA[na];
        iv->iov_base = p;
        iv->iov_len = PKT;
        memset(&m->msg_hdr, 0, sizeof m->msg_hdr);
        m->msg_hdr.msg_iov = iv;
        m->msg_hdr.msg_iovlen = 1;
        m->msg_hdr.msg_name = &dst[i];
        m->msg_hdr.msg_namelen = sizeof dst[i];
        if (isb) nb++;
        else na++;
        cursor = (cursor + 1) % streams;
      }
      for (int off = 0; off < na;) {
        int r = sendmmsg(sa, mA + off, na - off, 0);
        if (r <= 0) break;
        off += r;
      }
      for (int off = 0; off < nb;) {
        int r = sendmmsg(sb, mB + off, nb - off, 0);
        if (r <= 0) break;
        off += r;
      }
    }
    drain(sa);
    drain(sb);
    if (na == 0 && nb == 0) {
      struct pollfd pf[2] = {{sa, POLLIN, 0}, {sb, POLLIN, 0}};
      uint64_t wait = t < t_end && next[cursor] > t ? next[cursor] - t : 1000000;
      struct timespec to = {0, (long)(wait > 1000000 ? 1000000 : wait)};
      ppoll(pf, 2, &to, NULL);
    }
  }
  if (late_file) {
    FILE *f = fopen(late_file, "w");
    if (f) {
      fprintf(f, "# measured window %llu..%llu ns\n", (unsigned long long)t_meas, (unsigned long long)t_end);
      for (uint64_t k = 0; k < n_late; k++) fprintf(f, "%llu %u %d\n", (unsigned long long)late[k].sent_ns, late[k].us, late[k].stream);
      fclose(f);
    }
  }
  double loss = sent_m ? 100.0 * (double)(sent_m - (recv_m < sent_m ? recv_m : sent_m)) / (double)sent_m : 0;
  printf("{\"sessions\":%d,\"sent\":%llu,\"received\":%llu,\"loss_pct\":%.4f,\"pps\":%.0f,\"p50_us\":%llu,\"p99_us\":%llu,\"p999_us\":%llu,\"max_us\":%llu,\"sender_behind_max_us\":%llu}\n",
         n, (unsigned long long)sent_m, (unsigned long long)recv_m, loss, recv_m / meas, (unsigned long long)pct(0.5), (unsigned long long)pct(0.99),
         (unsigned long long)pct(0.999), (unsigned long long)late_max_us, (unsigned long long)(behind_max / 1000));
  return 0;
}
