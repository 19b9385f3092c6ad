/*
 * guestrun.c - run an x86lab guest ELF (ELF64 or ELF32) as an ordinary Linux
 * process under ptrace, emulating the few privileged instructions the guest
 * runtime uses.  A developer tool, independent of x86lab: it shows what the
 * real CPU does with a guest image, so x86lab's behaviour can be compared
 * against it.  Not used by the Rust tests.
 *
 * The guest images are static, non-PIE ELF executables with no syscalls, so
 * Linux can exec them directly.  At CPL3 `cli`, `hlt` and `out` fault with
 * #GP (SIGSEGV); guestrun catches each fault and emulates:
 *     cli / sti           -> skipped
 *     out 0xE9, al        -> byte written to stdout
 *     out 0xF4, al/ax/eax -> run ends, exit status = low 8 bits of the value
 *     hlt                 -> run ends, exit status 0
 *
 * Usage: guestrun [-c] [-t TRACEFILE] GUEST.elf
 *     -c      single-step and print the retired instruction count to stderr
 *     -t F    single-step and write every executed instruction address
 *             (hex, one per line) to F (implies -c)
 *
 * Build: gcc -O2 -o guestrun guestrun.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child;

static void die(const char *msg)
{
    fprintf(stderr, "guestrun: %s\n", msg);
    if (child > 0)
        kill(child, SIGKILL);
    exit(1);
}

static void read_code(uint64_t addr, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i += sizeof(long)) {
        errno = 0;
        long word = ptrace(PTRACE_PEEKTEXT, child, (void *)(addr + i), NULL);
        if (errno != 0)
            die("cannot read guest code");
        memcpy(out + i, &word, sizeof(long));
    }
}

int main(int argc, char **argv)
{
    int count = 0;
    FILE *trace = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "ct:")) != -1) {
        if (opt == 'c') {
            count = 1;
        } else if (opt == 't') {
            count = 1;
            trace = fopen(optarg, "w");
            if (!trace)
                die("cannot open trace file");
        } else {
            fprintf(stderr, "usage: guestrun [-c] [-t TRACEFILE] GUEST.elf\n");
            return 1;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "usage: guestrun [-c] [-t TRACEFILE] GUEST.elf\n");
        return 1;
    }

    child = fork();
    if (child < 0)
        die("fork failed");
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        execl(argv[optind], argv[optind], (char *)NULL);
        perror("exec");
        _exit(127);
    }

    int status;
    if (waitpid(child, &status, 0) < 0 || !WIFSTOPPED(status))
        die("child did not stop at exec");

    if (trace) {
        /* Each line is the address of an instruction about to execute. */
        struct user_regs_struct entry;
        if (ptrace(PTRACE_GETREGS, child, NULL, &entry) < 0)
            die("PTRACE_GETREGS failed");
        fprintf(trace, "%llx\n", (unsigned long long)entry.rip);
    }

    uint64_t steps = 0;
    int sig = 0;
    for (;;) {
        if (ptrace(count ? PTRACE_SINGLESTEP : PTRACE_CONT, child, NULL,
                   (void *)(long)sig) < 0)
            die("ptrace resume failed");
        sig = 0;
        if (waitpid(child, &status, 0) < 0)
            die("waitpid failed");
        if (WIFEXITED(status) || WIFSIGNALED(status))
            die("guest process ended unexpectedly (made a syscall or was killed)");
        int s = WSTOPSIG(status);
        struct user_regs_struct regs;
        if (ptrace(PTRACE_GETREGS, child, NULL, &regs) < 0)
            die("PTRACE_GETREGS failed");
        if (s == SIGTRAP) {
            /* One instruction retired; rip is the next one. */
            steps++;
            if (trace)
                fprintf(trace, "%llx\n", (unsigned long long)regs.rip);
            continue;
        }
        if (s != SIGSEGV && s != SIGILL) {
            fprintf(stderr, "guestrun: unexpected signal %d at %llx\n", s,
                    (unsigned long long)regs.rip);
            kill(child, SIGKILL);
            return 1;
        }
        unsigned char code[16];
        read_code(regs.rip, code, sizeof code);
        unsigned len = code[0] == 0x66 ? 1 : 0; /* operand-size prefix */
        unsigned char op = code[len];
        int port = -1;
        uint32_t value = (uint32_t)regs.rax;
        if (op == 0xFA || op == 0xFB) { /* cli / sti */
            len += 1;
        } else if (op == 0xF4) { /* hlt */
            if (count)
                fprintf(stderr, "guestrun: %llu instructions\n",
                        (unsigned long long)(steps + 1));
            fflush(stdout);
            kill(child, SIGKILL);
            return 0;
        } else if (op == 0xE6 || op == 0xE7) { /* out imm8, al/ax/eax */
            port = code[len + 1];
            len += 2;
        } else if (op == 0xEE || op == 0xEF) { /* out dx, al/ax/eax */
            port = (uint16_t)regs.rdx;
            len += 1;
        } else {
            fprintf(stderr, "guestrun: unexpected fault at %llx (opcode %02x)\n",
                    (unsigned long long)regs.rip, op);
            kill(child, SIGKILL);
            return 1;
        }
        steps++;
        if (port == 0xE9) {
            putchar((int)(value & 0xff));
        } else if (port == 0xF4) {
            if (count)
                fprintf(stderr, "guestrun: %llu instructions\n",
                        (unsigned long long)steps);
            fflush(stdout);
            kill(child, SIGKILL);
            return (int)(value & 0xff);
        } else if (port >= 0) {
            fprintf(stderr, "guestrun: write to unknown port %#x ignored\n", port);
        }
        regs.rip += len;
        if (trace)
            fprintf(trace, "%llx\n", (unsigned long long)regs.rip);
        if (ptrace(PTRACE_SETREGS, child, NULL, &regs) < 0)
            die("PTRACE_SETREGS failed");
    }
}
