/* x86lab's native runner: runs compatibility-mode cases on the processor, in a 32-bit code
 * segment of this (64-bit Linux) process, for the differential engine on hosts whose KVM
 * does not run 32-bit code on the processor (src/fuzz/native.rs).
 *
 * Protocol, one case per exchange, on stdin/stdout:
 *   in:  C <rflags> <rax> <rcx> <rdx> <rbx> <rsp> <rbp> <rsi> <rdi> <r8>..<r15> <n> <ldt>
 *        then n lines "M <addr> <hex bytes>" (addr in 100000h..10FFFFh or 200000h..20FFFFh);
 *        <ldt> is "-" or the 8 descriptors of the process's LDT, in hex (64 bytes)
 *   out: R <signal> <trapno> <err> <addr> <rip> <rflags> <16 registers> then the n chunks
 *        as they are at the end, in hex; "B" when a chunk is outside the mapped pages; or
 *        "L <entry> <errno> <the LDT read back>" when Linux does not hold an LDT descriptor as
 *        given (modify_ldt() writes only DPL 3 code and data descriptors).
 * All numbers in hex. The case starts at 100000h with CS = 23h (Linux's 32-bit user code
 * segment), SS = DS = ES = FS = GS = 2Bh (flat data), the given registers and flags, and ends
 * at its first trap: the sentinel `out 0xf4, al` is a #GP at CPL 3 without I/O permission.
 * The initial state is installed by a signal handler that rewrites its ucontext and returns
 * through sigreturn (the way tests/cases/verify_native.py does it); the handler also takes
 * the final state and restores the host's. No heap: nothing a case does can corrupt it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <ucontext.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <asm/prctl.h>
#include <asm/ldt.h>
#include <errno.h>

static const int gidx[16] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI,
  REG_RDI, REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15 };
static volatile int phase;
static greg_t host[NGREG], res[NGREG], init[NGREG];
static unsigned long fault_addr;
static int fault_sig;
static uint64_t fsbase;
static char line[1 << 15];
static uint64_t caddr[8];
static unsigned clen[8];

static void handler(int sig, siginfo_t *si, void *uv) {
  ucontext_t *uc = uv;
  if (phase == 0) {
    memcpy(host, uc->uc_mcontext.gregs, sizeof host);
    memcpy(uc->uc_mcontext.gregs, init, sizeof init);
    phase = 1;
    return;
  }
  memcpy(res, uc->uc_mcontext.gregs, sizeof res);
  fault_sig = sig;
  fault_addr = (unsigned long)si->si_addr;
  memcpy(uc->uc_mcontext.gregs, host, sizeof host);
  phase = 2;
}

static void enter(void) {
  uint64_t sel = 0x2b;
  phase = 0;
  __asm__ volatile(
    "mov %%ax, %%ds\n\tmov %%ax, %%es\n\tmov %%ax, %%fs\n\tmov %%ax, %%gs\n\t"
    "int3\n\t"
    "xor %%eax, %%eax\n\tmov %%eax, %%ds\n\tmov %%eax, %%es\n\tmov %%eax, %%gs\n\t"
    "mov $158, %%eax\n\tmov $0x1002, %%edi\n\tmov %1, %%rsi\n\tsyscall\n\t"
    : "+a"(sel) : "m"(fsbase)
    : "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
}

static uint8_t *ptr(uint64_t a, unsigned len) {
  if ((a >= 0x100000 && a + len <= 0x110000) || (a >= 0x200000 && a + len <= 0x210000))
    return (uint8_t *)a;
  return 0;
}

static int hexval(char c) {
  return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Installs the 8 descriptors of `h` (hex) as the LDT, the way modify_ldt() takes them, and
 * reads the table back into `back`: returns -1 when it is what was asked, else the entry
 * that differs or could not be written (8: the table as a whole; ldt_errno says why). */
static uint8_t back[64];
static int ldt_errno;
static int install_ldt(const char *h) {
  uint8_t want[64];
  for (int k = 0; k < 64; k++) want[k] = hexval(h[2 * k]) << 4 | hexval(h[2 * k + 1]);
  for (int e = 0; e < 8; e++) {
    const uint8_t *d = want + 8 * e;
    uint32_t lo = d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24;
    uint32_t hi = d[4] | d[5] << 8 | d[6] << 16 | (uint32_t)d[7] << 24;
    unsigned type = (hi >> 8) & 0xf;
    struct user_desc u;
    memset(&u, 0, sizeof u);
    u.entry_number = e;
    u.base_addr = (lo >> 16) | (hi & 0xff) << 16 | (hi & 0xff000000);
    u.limit = (lo & 0xffff) | (hi & 0xf0000);
    u.seg_32bit = (hi >> 22) & 1;
    u.contents = (type >> 2) & 3;
    u.read_exec_only = !((type >> 1) & 1);
    u.limit_in_pages = (hi >> 23) & 1;
    u.seg_not_present = !((hi >> 15) & 1);
    u.useable = (hi >> 20) & 1;
    if (syscall(SYS_modify_ldt, 1, &u, sizeof u) != 0) { ldt_errno = errno; return e; }
  }
  ldt_errno = 0;
  memset(back, 0, sizeof back);
  if (syscall(SYS_modify_ldt, 0, back, sizeof back) != sizeof back) { ldt_errno = errno; return 8; }
  for (int e = 0; e < 8; e++)
    if (memcmp(back + 8 * e, want + 8 * e, 8)) return e;
  return -1;
}

int main(void) {
  syscall(SYS_arch_prctl, ARCH_GET_FS, &fsbase);
  static char altstack[1 << 16] __attribute__((aligned(64)));
  static char outbuf[1 << 16];
  setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
  stack_t ss; ss.ss_sp = altstack; ss.ss_size = sizeof altstack; ss.ss_flags = 0;
  sigaltstack(&ss, 0);
  struct sigaction sa; memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler; sa.sa_flags = SA_SIGINFO | SA_ONSTACK; sigemptyset(&sa.sa_mask);
  int sigs[] = { SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGALRM };
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, 0);
  uint8_t *code = mmap((void *)0x100000, 0x10000, 7, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uint8_t *data = mmap((void *)0x200000, 0x10000, 7, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (code == MAP_FAILED || data == MAP_FAILED) { perror("mmap"); return 2; }
  while (fgets(line, sizeof line, stdin)) {
    unsigned long long rflags, r[16];
    unsigned n;
    int ldt_at = 0;
    if (sscanf(line, "C %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx %x %n",
               &rflags, &r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6], &r[7], &r[8], &r[9],
               &r[10], &r[11], &r[12], &r[13], &r[14], &r[15], &n, &ldt_at) != 18 || n > 8 || !ldt_at)
      return 3;
    int ldt_bad = -1;
    if (line[ldt_at] != '-') {
      if (strspn(line + ldt_at, "0123456789abcdefABCDEF") != 128) return 3;
      ldt_bad = install_ldt(line + ldt_at);
    }
    memset(code, 0xcc, 0x10000);
    memset(data, 0, 0x10000);
    int bad = 0;
    for (unsigned c = 0; c < n; c++) {
      if (!fgets(line, sizeof line, stdin)) return 3;
      unsigned long long a;
      int off = 0;
      if (sscanf(line, "M %llx %n", &a, &off) != 1) return 3;
      const char *h = line + off;
      unsigned len = 0;
      while (h[len] && h[len] != '\n') len++;
      len /= 2;
      caddr[c] = a; clen[c] = len;
      uint8_t *p = ptr(a, len);
      if (!p) { bad = 1; continue; }
      for (unsigned k = 0; k < len; k++) p[k] = hexval(h[2 * k]) << 4 | hexval(h[2 * k + 1]);
    }
    if (bad) { printf("B\n"); fflush(stdout); continue; }
    if (ldt_bad >= 0) {
      printf("L %d %d ", ldt_bad, ldt_errno);
      for (int k = 0; k < 64; k++) printf("%02x", back[k]);
      printf("\n");
      fflush(stdout);
      continue;
    }
    memset(init, 0, sizeof init);
    for (int i = 0; i < 16; i++) init[gidx[i]] = r[i];
    init[REG_EFL] = (rflags & 0xcd5) | 0x202;
    init[REG_RIP] = 0x100000;
    init[REG_CSGSFS] = 0x23 | (0x2bULL << 48);
    alarm(2);
    enter();
    alarm(0);
    printf("R %x %lx %lx %lx %lx %lx", fault_sig, (unsigned long)res[REG_TRAPNO],
           (unsigned long)res[REG_ERR], fault_addr, (unsigned long)res[REG_RIP],
           (unsigned long)res[REG_EFL]);
    for (int i = 0; i < 16; i++) printf(" %lx", (unsigned long)res[gidx[i]]);
    for (unsigned c = 0; c < n; c++) {
      uint8_t *p = ptr(caddr[c], clen[c]);
      printf(" ");
      for (unsigned k = 0; k < clen[c]; k++) printf("%02x", p[k]);
    }
    printf("\n");
    fflush(stdout);
  }
  return 0;
}
