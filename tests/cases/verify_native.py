#!/usr/bin/env python3
"""Cross-check the x86lab instruction test vectors on the host CPU.

For every case of the given files (default: every *.txt beside this script)
the case is assembled with nasm exactly as the emulator harness does it
(`bits N`, `org <code address>`, one element per line), and all cases of one
file are batched into ONE generated C program (one gcc compile per file).

How a case runs natively (x86-64 Linux only):
  * code is copied to its real address: 0x100000 for 32/64-bit cases (the page
    around it is filled with int3, so RIP-relative operands and jump targets are
    the emulator's), data lives in a MAP_FIXED mapping at 0x200000..0x20FFFF;
  * 32-bit cases run in compatibility mode (CS=0x23, DS=ES=SS=0x2b, flat);
  * 16-bit cases run in 16-bit protected mode: the real-mode memory
    0..0x10FFFF is mapped at BASE16 and modify_ldt() creates a 16-bit code
    segment with base BASE16 (so CS:IP = 0:IP lands on the linear 0x1000 code)
    and one 16-bit data segment per DS/ES/FS/GS/SS with base BASE16+seg*16,
    limit 0xFFFF, i.e. the same linear addresses as real mode.  Everything
    that observes selector values (segment-register moves, far control
    transfers, lds/les...) is skipped;
  * the initial state (all GPRs, RIP, RFLAGS, CS, SS) is installed by a signal
    handler that rewrites its ucontext and returns through sigreturn; the case
    ends at the first trap: the int3 fill after (or around) the code = the
    case left its code range (RIP = the int3 address), or an exception
    (ucontext trapno = vector).  The handler then restores the host context.
    The runner is a static PIE that never uses the heap (static signal stack
    and stdout buffer), so it stays far from every low address a case names.
Compared: the GPRs (64-bit cases: all 64 bits; 16/32-bit cases: the low 32
bits of the 8 legacy GPRs, since the upper halves are architecturally
undefined after compatibility mode, and r8..r15), RIP, the flags
CF PF AF ZF SF DF OF (the only ones settable at CPL3) minus the flags the SDM
leaves undefined for the executed instructions (table below, count-aware for
shifts and rotates), the memory named in EXPECTED, and the exception vector.

Usage: python3 verify_native.py [-q] [--notes] [--keep DIR] [file.txt ...]
"""
import argparse
import glob
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

GPRS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp',
        'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15']
GREG = {r: 'REG_' + r.upper() for r in GPRS}
SEGS = ['ds', 'es', 'fs', 'gs', 'ss']
FLAG_BITS = {'CF': 0, 'PF': 2, 'AF': 4, 'ZF': 6, 'SF': 7, 'TF': 8, 'IF': 9,
             'DF': 10, 'OF': 11, 'AC': 18}
CHECKED = ['CF', 'PF', 'AF', 'ZF', 'SF', 'DF', 'OF']
VECTORS = {'DE': 0, 'DB': 1, 'BP': 3, 'OF': 4, 'BR': 5, 'UD': 6, 'NM': 7,
           'DF': 8, 'TS': 10, 'NP': 11, 'SS': 12, 'GP': 13, 'PF': 14,
           'MF': 16, 'AC': 17}
CODE_ADDR = {16: 0x1000, 32: 0x100000, 64: 0x100000}
DEFAULT_SP = {16: 0x8000, 32: 0x20F000, 64: 0x20F000}
BASE16 = 0x40000000
HEX = re.compile(r'0x[0-9a-fA-F]+\Z')


class CaseError(Exception):
    pass


# --------------------------------------------------------------------------
# parsing (the format of README.md)
# --------------------------------------------------------------------------

def num(s, what):
    if not HEX.match(s):
        raise CaseError(f'{what}: number {s!r} is not 0x-prefixed hex')
    return int(s, 16)


def parse_state(field, expected):
    st = {'regs': {}, 'flags': None, 'mem': [], 'segs': {}, 'exception': None,
          'rip': None}
    for tok in field.split():
        key, eq, val = tok.partition('=')
        if not eq:
            raise CaseError(f'token {tok!r} is not an assignment')
        m = re.fullmatch(r'(m8|m16|m32|m64|m128|bytes)\[(0x[0-9a-fA-F]+)\]', key)
        if m:
            addr = int(m[2], 16)
            if m[1] == 'bytes':
                if not re.fullmatch(r'([0-9a-fA-F]{2})+', val):
                    raise CaseError(f'bad bytes value {val!r}')
                data = bytes.fromhex(val)
            else:
                size = int(m[1][1:]) // 8
                v = num(val, key)
                if v >> (8 * size):
                    raise CaseError(f'{tok}: value too wide')
                data = v.to_bytes(size, 'little')
            st['mem'].append((addr, data))
        elif key in GPRS:
            v = num(val, key)
            if v >> 64:
                raise CaseError(f'{tok}: value too wide')
            st['regs'][key] = v
        elif key == 'rip':
            st['rip'] = num(val, key)
        elif key == 'flags':
            fl = set(val.split(',')) if val else set()
            bad = fl - set(FLAG_BITS)
            if bad:
                raise CaseError(f'unknown flag(s) {bad}')
            st['flags'] = fl
        elif key in SEGS or (key == 'cs' and expected):
            v = num(val, key)
            if v >> 16:
                raise CaseError(f'{tok}: value too wide')
            st['segs'][key] = v
        elif key == 'exception' and expected:
            if val not in VECTORS:
                raise CaseError(f'unknown exception {val!r}')
            st['exception'] = val
        else:
            raise CaseError(f'unknown key {key!r}')
    return st


def parse_file(path):
    cases = []
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.split('#', 1)[0].strip()
            if not line:
                continue
            where = f'{os.path.basename(path)}:{lineno}'
            parts = line.split(' | ')
            if len(parts) != 4 or not all(p.strip() for p in parts):
                raise CaseError(f'{where}: expected 4 non-empty fields separated by " | "')
            bits_s, asm, init_s, exp_s = (p.strip() for p in parts)
            if bits_s not in ('16', '32', '64'):
                raise CaseError(f'{where}: bad BITS {bits_s!r}')
            try:
                init = parse_state(init_s, False)
                exp = parse_state(exp_s, True)
            except CaseError as e:
                raise CaseError(f'{where}: {e}') from None
            elems = [e.strip() for e in asm.split(';') if e.strip()]
            cases.append({'where': where, 'bits': int(bits_s), 'asm': asm,
                          'elems': elems, 'init': init, 'exp': exp,
                          'line': raw.rstrip('\n')})
    return cases


# --------------------------------------------------------------------------
# assembling
# --------------------------------------------------------------------------

def assemble(case, tmp):
    bits = case['bits']
    src = os.path.join(tmp, 'c.asm')
    with open(src, 'w') as f:
        f.write(f'bits {bits}\norg {CODE_ADDR[bits]:#x}\n')
        for e in case['elems']:
            f.write(e + '\n')
    out = os.path.join(tmp, 'c.bin')
    lst = os.path.join(tmp, 'c.lst')
    r = subprocess.run(['nasm', '-f', 'bin', '-o', out, '-l', lst, src],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise CaseError(f'{case["where"]}: nasm failed: {r.stderr.strip()}')
    code = open(out, 'rb').read()
    # offset of every source line that produced bytes
    starts = {}
    for l in open(lst):
        m = re.match(r'\s*(\d+)\s+([0-9A-F]{8})\s+[0-9A-F(\[]', l)
        if m:
            starts.setdefault(int(m[1]), int(m[2], 16))
    elem_off = [starts.get(i + 3) for i in range(len(case['elems']))]
    case['code'] = code
    case['elem_off'] = elem_off
    return code


# --------------------------------------------------------------------------
# undefined flags (SDM Vol.2 "Flags Affected" sections)
# --------------------------------------------------------------------------

ALL6 = {'CF', 'PF', 'AF', 'ZF', 'SF', 'OF'}
FLAG_TABLE = {}


def _ft(names, undef, written):
    def as_set(x):
        return set(x.split()) if isinstance(x, str) else set(x)
    for n in names.split():
        FLAG_TABLE[n] = (as_set(undef), as_set(written))


_ft('add adc sub sbb cmp neg xadd cmpxchg cmpsb cmpsw cmpsd cmpsq cmps '
    'scasb scasw scasd scasq scas', '', ALL6)
_ft('inc dec', '', ALL6 - {'CF'})
_ft('and or xor test', {'AF'}, ALL6 - {'AF'})
_ft('mul imul', 'SF ZF AF PF', {'CF', 'OF'})
_ft('div idiv', ALL6, '')
_ft('bt bts btr btc', 'OF SF AF PF', {'CF'})
_ft('bsf bsr', 'CF OF SF AF PF', {'ZF'})
_ft('popcnt', '', ALL6)
_ft('lzcnt tzcnt', 'OF SF AF PF', {'CF', 'ZF'})
_ft('andn', {'AF', 'PF'}, {'SF', 'ZF', 'OF', 'CF'})
_ft('bextr', {'AF', 'SF', 'PF'}, {'ZF', 'CF', 'OF'})
_ft('blsi blsmsk blsr bzhi', {'AF', 'PF'}, {'CF', 'ZF', 'SF', 'OF'})
_ft('adcx', '', {'CF'})
_ft('adox', '', {'OF'})
_ft('daa das', {'OF'}, ALL6 - {'OF'})
_ft('aaa aas', {'OF', 'SF', 'ZF', 'PF'}, {'AF', 'CF'})
_ft('aam aad', {'OF', 'AF', 'CF'}, {'SF', 'ZF', 'PF'})
_ft('sahf', '', {'SF', 'ZF', 'AF', 'PF', 'CF'})
_ft('popf popfw popfd popfq', '', ALL6 | {'DF'})
_ft('clc stc cmc', '', {'CF'})
_ft('cld std', '', {'DF'})
_ft('cmpxchg8b cmpxchg16b', '', {'ZF'})

REG_SIZE = {}
for _n in ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp']:
    REG_SIZE[_n] = 64
    REG_SIZE['e' + _n[1:]] = 32
    REG_SIZE[_n[1:]] = 16
for _n in ['al', 'bl', 'cl', 'dl', 'ah', 'bh', 'ch', 'dh', 'sil', 'dil', 'spl', 'bpl']:
    REG_SIZE[_n] = 8
for _i in range(8, 16):
    REG_SIZE[f'r{_i}'] = 64
    REG_SIZE[f'r{_i}d'] = 32
    REG_SIZE[f'r{_i}w'] = 16
    REG_SIZE[f'r{_i}b'] = 8
SIZE_KW = {'byte': 8, 'word': 16, 'dword': 32, 'qword': 64}
PREFIXES = {'rep', 'repe', 'repz', 'repne', 'repnz', 'lock', 'o16', 'o32',
            'o64', 'a16', 'a32', 'a64', 'cs', 'ds', 'es', 'fs', 'gs', 'ss'}


def split_insn(elem):
    """-> (mnemonic, [operands]) with prefixes dropped; None for labels."""
    e = elem.strip()
    if e.endswith(':'):
        return None
    toks = e.split(None, 1)
    while toks and toks[0].lower() in PREFIXES:
        toks = toks[1].split(None, 1) if len(toks) > 1 else []
    if not toks:
        return None
    mn = toks[0].lower()
    ops = [o.strip().lower() for o in toks[1].split(',')] if len(toks) > 1 else []
    return mn, ops


def op_size(op):
    if op in REG_SIZE:
        return REG_SIZE[op]
    for kw, sz in SIZE_KW.items():
        if re.match(kw + r'\b', op):
            return sz
    return None


def imm_value(op):
    op = re.sub(r'^(byte|word|dword|qword)\s+', '', op)
    try:
        return int(op, 0)
    except ValueError:
        return None


def flag_effect(mn, ops, bits, first, init):
    """(undefined, written) flag sets of one instruction (count-aware)."""
    if mn in FLAG_TABLE:
        return FLAG_TABLE[mn]
    shifts = {'shl', 'sal', 'shr', 'sar'}
    rots = {'rol', 'ror', 'rcl', 'rcr'}
    if mn in shifts | rots | {'shld', 'shrd'}:
        size = op_size(ops[0]) if ops else None
        cnt_op = ops[-1] if len(ops) >= 2 else '1'
        if cnt_op == 'cl':
            cnt = (init['regs'].get('rcx', 0) & 0xff) if first else None
        else:
            cnt = imm_value(cnt_op)
        if cnt is not None:
            cnt &= 0x3f if size == 64 else 0x1f
        if mn in shifts:
            if cnt == 0:
                return set(), set()
            und = {'AF'} if cnt == 1 else {'AF', 'OF'}
            if mn in ('shl', 'sal', 'shr') and size in (8, 16) and (cnt is None or cnt >= size):
                und.add('CF')  # "undefined for SHL and SHR where count >= size"
            return und, ALL6 - und
        if mn in rots:
            if cnt == 0:
                return set(), set()
            und = set() if cnt == 1 else {'OF'}
            return und, {'CF', 'OF'} - und
        # shld / shrd
        if cnt == 0:
            return set(), set()
        if cnt is None or (size == 16 and cnt > 16):
            return set(ALL6), set()
        und = {'AF'} if cnt == 1 else {'AF', 'OF'}
        return und, ALL6 - und
    return set(), set()


def undefined_flags(case):
    undef = set()
    first = True
    elems = case['elems']
    if case['exp']['exception']:
        # the faulting (last) instruction does not complete: its flags do not count
        insns = [i for i, e in enumerate(elems) if split_insn(e) is not None]
        if insns:
            elems = elems[:insns[-1]]
    for e in elems:
        si = split_insn(e)
        if si is None:
            continue
        u, w = flag_effect(si[0], si[1], case['bits'], first, case['init'])
        undef = (undef - w) | u
        first = False
    return undef


def iced_undefined_flags(case):
    """Same fold with iced-x86's static rflags info (what the Rust harness uses)."""
    try:
        from iced_x86 import Decoder, RflagsBits
    except ImportError:
        return None
    names = {'OF': RflagsBits.OF, 'SF': RflagsBits.SF, 'ZF': RflagsBits.ZF,
             'AF': RflagsBits.AF, 'CF': RflagsBits.CF, 'PF': RflagsBits.PF,
             'DF': RflagsBits.DF}
    undef = set()
    for ins in Decoder(case['bits'], case['code'], ip=CODE_ADDR[case['bits']]):
        u = {n for n, b in names.items() if ins.rflags_undefined & b}
        w = {n for n, b in names.items() if ins.rflags_modified & b}
        undef = (undef - w) | u
    return undef


# --------------------------------------------------------------------------
# what cannot run natively
# --------------------------------------------------------------------------

SEGREG_OPERAND = re.compile(r'\b(cs|ds|es|fs|gs|ss)\b(?!\s*:)')
PRIV = re.compile(r'^(cli|sti|hlt|in|out|ins[bwd]?|outs[bwd]?|lgdt|lidt|lldt|ltr|'
                  r'invd|wbinvd|invlpg|rdmsr|wrmsr|int|int1|int3|into|iret[dq]?|'
                  r'cpuid|rdtsc|rdtscp|syscall|sysret|sysenter|sysexit|swapgs|'
                  r'clts|lmsw|smsw|sgdt|sidt|bound|retf|lds|les|lss|lfs|lgs)$')


CPU_FEATURE = {}
for _m in 'andn bextr blsi blsmsk blsr tzcnt'.split():
    CPU_FEATURE[_m] = 'bmi1'
for _m in 'bzhi pdep pext mulx rorx sarx shlx shrx'.split():
    CPU_FEATURE[_m] = 'bmi2'
CPU_FEATURE.update({'adcx': 'adx', 'adox': 'adx', 'movbe': 'movbe', 'popcnt': 'popcnt',
                    'lzcnt': 'abm', 'cmpxchg16b': 'cx16'})


def host_cpu_flags():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    return set(line.split(':', 1)[1].split())
    except OSError:
        pass
    return set()


HOST_FLAGS = host_cpu_flags()


def skip_reason(case):
    fl = case['init']['flags'] or set()
    if fl & {'TF', 'AC'}:
        return 'TF/AC in the initial flags'
    if case['init']['segs'].get('cs') is not None:
        return 'sets CS'
    for e in case['elems']:
        si = split_insn(e)
        if si is None:
            continue
        mn, ops = si
        feat = CPU_FEATURE.get(mn)
        if feat and feat not in HOST_FLAGS:
            return f'{mn}: the host CPU lacks {feat}'
        if PRIV.match(mn):
            return f'{mn}: privileged/system or selector-dependent at CPL3'
        if mn.startswith('mov') and any(o.startswith(('cr', 'dr')) for o in ops):
            return 'control/debug register'
        if 'far' in ops[0:1] or (ops and re.search(r'\bfar\b', ops[0])):
            return 'far transfer'
        if mn in ('jmp', 'call') and ops and re.match(r'^[\w$]+\s*:\s*[\w$]+$', ops[0]) \
                and not ops[0].startswith('['):
            return 'far transfer'
        rest = ' '.join(ops)
        # segment registers as operands (not as overrides "es:")
        if SEGREG_OPERAND.search(rest):
            return 'segment register operand (selector values differ natively)'
    return None


# --------------------------------------------------------------------------
# C program
# --------------------------------------------------------------------------

C_TEMPLATE = r'''
#define _GNU_SOURCE
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <ucontext.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <asm/ldt.h>
#include <asm/prctl.h>
#ifndef UC_STRICT_RESTORE_SS
#define UC_STRICT_RESTORE_SS 0x4
#endif
#define BASE16 0x%(base16)xUL
struct mi { uint64_t addr; uint32_t len; uint32_t off; };
struct tc { int bits; uint32_t code_off, code_len; uint64_t regs[16]; uint64_t rflags;
            uint16_t seg[5]; uint32_t mi_first, mi_n, rd_first, rd_n; };
static const int gidx[16] = { REG_RAX, REG_RBX, REG_RCX, REG_RDX, REG_RSI, REG_RDI, REG_RBP,
  REG_RSP, REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15 };
static const uint8_t blob[] = { %(blob)s };
static const struct mi mis[] = { %(mis)s };
static const struct mi rds[] = { %(rds)s };
static const struct tc tcs[] = { %(tcs)s };
static volatile int phase;
static greg_t host[NGREG], res[NGREG], init[NGREG];
static unsigned long ucflags_or;
static uint64_t fsbase;
static uint8_t *m16;
static int have_ldt = 1;

static void handler(int sig, siginfo_t *si, void *uv) {
  ucontext_t *uc = uv; (void)si;
  if (phase == 0) {
    memcpy(host, uc->uc_mcontext.gregs, sizeof host);
    memcpy(uc->uc_mcontext.gregs, init, sizeof init);
    uc->uc_flags |= ucflags_or;
    phase = 1;
    return;
  }
  memcpy(res, uc->uc_mcontext.gregs, sizeof res);
  res[REG_ERR] = sig;
  memcpy(uc->uc_mcontext.gregs, host, sizeof host);
  phase = 2;
}

static void set_ldt(int n, uint32_t base, int code) {
  struct user_desc d; memset(&d, 0, sizeof d);
  d.entry_number = n; d.base_addr = base; d.limit = 0xffff; d.seg_32bit = 0;
  d.contents = code ? 2 : 0; d.useable = 1;
  if (syscall(SYS_modify_ldt, 1, &d, sizeof d) != 0) have_ldt = 0;
}

static uint8_t *ptr(int bits, uint64_t a, uint32_t len) {
  if (bits == 16) { if (a + len <= 0x110000) return m16 + a; }
  else if ((a >= 0x100000 && a + len <= 0x110000) || (a >= 0x200000 && a + len <= 0x210000))
    return (uint8_t *)a;
  return 0;
}

static void enter(uint64_t ds, uint64_t es, uint64_t fs, uint64_t gs) {
  phase = 0;
  __asm__ volatile(
    "mov %%%%ax, %%%%ds\n\tmov %%%%bx, %%%%es\n\tmov %%%%cx, %%%%fs\n\tmov %%%%dx, %%%%gs\n\t"
    "int3\n\t"
    "xor %%%%eax, %%%%eax\n\tmov %%%%eax, %%%%ds\n\tmov %%%%eax, %%%%es\n\tmov %%%%eax, %%%%gs\n\t"
    "mov $158, %%%%eax\n\tmov $0x1002, %%%%edi\n\tmov %%4, %%%%rsi\n\tsyscall\n\t"
    : "+a"(ds), "+b"(es), "+c"(fs), "+d"(gs) : "m"(fsbase)
    : "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
}

int main(void) {
  syscall(SYS_arch_prctl, ARCH_GET_FS, &fsbase);
  /* No heap: the alternate signal stack and stdout's buffer are static, so nothing a case
     does can leave malloc's bookkeeping half-written. */
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
  m16 = mmap((void *)BASE16, 0x110000, 7, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (code == MAP_FAILED || data == MAP_FAILED || m16 == MAP_FAILED) { perror("mmap"); return 2; }
  for (unsigned t = 0; t < sizeof tcs / sizeof tcs[0]; t++) {
    const struct tc *c = &tcs[t];
    memset(code, 0xcc, 0x10000); memset(data, 0, 0x10000);
    uint64_t ds = 0, es = 0, fs = 0, gs = 0;
    memset(init, 0, sizeof init);
    for (int i = 0; i < 16; i++) init[gidx[i]] = c->regs[i];
    init[REG_EFL] = c->rflags | 0x202;
    ucflags_or = 0;
    if (c->bits == 16) {
      set_ldt(0, BASE16, 1);
      if (!have_ldt) { printf("L %%u\n", t); continue; }
      memset(m16, 0, 0x110000); memset(m16 + 0x1000, 0xcc, 0x1000);
      memcpy(m16 + 0x1000, blob + c->code_off, c->code_len);
      set_ldt(0, BASE16, 1);
      for (int s = 0; s < 5; s++) set_ldt(1 + s, BASE16 + 16u * c->seg[s], 0);
      ds = 1 << 3 | 7; es = 2 << 3 | 7; fs = 3 << 3 | 7; gs = 4 << 3 | 7;
      init[REG_RIP] = 0x1000;
      init[REG_CSGSFS] = (0 << 3 | 7) | ((uint64_t)(5 << 3 | 7) << 48);
      ucflags_or = UC_STRICT_RESTORE_SS;
    } else {
      memcpy(code, blob + c->code_off, c->code_len);
      init[REG_RIP] = 0x100000;
      if (c->bits == 32) { ds = es = 0x2b; init[REG_CSGSFS] = 0x23 | (0x2bULL << 48); }
      else init[REG_CSGSFS] = 0x33 | (0x2bULL << 48);
    }
    int bad = 0;
    for (uint32_t i = 0; i < c->mi_n; i++) {
      const struct mi *m = &mis[c->mi_first + i];
      uint8_t *p = ptr(c->bits, m->addr, m->len);
      if (!p) { bad = 1; break; }
      memcpy(p, blob + m->off, m->len);
    }
    if (bad) { printf("B %%u\n", t); continue; }
    alarm(2);
    enter(ds, es, fs, gs);
    alarm(0);
    printf("R %%u %%lx %%lx %%lx %%lx", t, (unsigned long)res[REG_ERR], (unsigned long)res[REG_TRAPNO],
           (unsigned long)res[REG_RIP], (unsigned long)res[REG_EFL]);
    for (int i = 0; i < 16; i++) printf(" %%lx", (unsigned long)res[gidx[i]]);
    for (uint32_t i = 0; i < c->rd_n; i++) {
      const struct mi *m = &rds[c->rd_first + i];
      uint8_t *p = ptr(c->bits, m->addr, m->len);
      printf(" ");
      if (!p) printf("?");
      else for (uint32_t k = 0; k < m->len; k++) printf("%%02x", p[k]);
    }
    printf("\n");
    fflush(stdout);
  }
  return 0;
}
'''


def c_program(cases):
    blob = bytearray()
    mis, rds, tcs = [], [], []
    for c in cases:
        code_off = len(blob)
        blob += c['code']
        bits = c['bits']
        regs = dict(c['init']['regs'])
        regs.setdefault('rsp', DEFAULT_SP[bits])
        rflags = 0
        for f in c['init']['flags'] or ():
            rflags |= 1 << FLAG_BITS[f]
        mi_first = len(mis)
        for addr, data in c['init']['mem']:
            mis.append((addr, len(data), len(blob)))
            blob += data
        rd_first = len(rds)
        for addr, data in c['exp']['mem']:
            rds.append((addr, len(data), 0))
        segs = [c['init']['segs'].get(s, 0) for s in SEGS]
        tcs.append('{%d, %d, %d, {%s}, 0x%x, {%s}, %d, %d, %d, %d}' % (
            bits, code_off, len(c['code']),
            ', '.join('0x%xULL' % regs.get(r, 0) for r in GPRS), rflags,
            ', '.join('0x%x' % s for s in segs),
            mi_first, len(mis) - mi_first, rd_first, len(rds) - rd_first))
    fmt_mi = lambda m: '{0x%xULL, %d, %d}' % m
    return C_TEMPLATE % {
        'base16': BASE16,
        'blob': ', '.join(str(b) for b in blob) or '0',
        'mis': ', '.join(map(fmt_mi, mis)) or '{0, 0, 0}',
        'rds': ', '.join(map(fmt_mi, rds)) or '{0, 0, 0}',
        'tcs': ',\n'.join(tcs),
    }


# --------------------------------------------------------------------------
# comparing
# --------------------------------------------------------------------------

def flags_of(value):
    return {f for f in CHECKED if value >> FLAG_BITS[f] & 1}


def compare(case, out):
    """-> list of difference strings (empty = pass)."""
    bits = case['bits']
    init, exp = case['init'], case['exp']
    sig, trapno, rip, efl = out['sig'], out['trapno'], out['rip'], out['efl']
    start = CODE_ADDR[bits]
    end = start + len(case['code'])
    diffs = []
    if sig == 14:  # SIGALRM
        return ['timed out (endless loop?)']
    # how did the case stop?
    exc = None
    if sig == 5 and trapno == 3:          # hit an int3 of the fill
        final_rip = rip - 1
        if start <= final_rip < end:
            exc = 'BP'
    elif not (start <= rip < end):        # fetched outside the code range
        final_rip = rip
    else:
        final_rip = rip
        exc = next((k for k, v in VECTORS.items() if v == trapno), f'vector {trapno}')
    if exp['exception']:
        if exc != exp['exception']:
            diffs.append(f'exception: expected #{exp["exception"]}, got '
                         + (f'#{exc}' if exc else f'none (left the code at {final_rip:#x})'))
        last = next((o for o in reversed(case['elem_off']) if o is not None), 0)
        want_rip = exp['rip'] if exp['rip'] is not None else start + last
    else:
        if exc:
            diffs.append(f'unexpected exception #{exc} at {rip:#x}')
        want_rip = exp['rip'] if exp['rip'] is not None else end
    if final_rip != want_rip:
        diffs.append(f'rip: expected {want_rip:#x}, got {final_rip:#x}')
    # registers
    want = {r: init['regs'].get(r, 0) for r in GPRS}
    want['rsp'] = init['regs'].get('rsp', DEFAULT_SP[bits])
    want.update(exp['regs'])
    pushf = any((split_insn(e) or ('',))[0].startswith('pushf') for e in case['elems'])
    for i, r in enumerate(GPRS):
        got = out['regs'][i]
        w = want[r]
        if bits != 64 and i < 8:
            if w >> 32:
                diffs.append(f'{r}: expectation {w:#x} is wider than 32 bits in a {bits}-bit case')
            got &= 0xffffffff
            w &= 0xffffffff
        if pushf:
            # a pushed flags image (and whatever it is popped into) has IF=1 at CPL3
            got &= ~0x200
            w &= ~0x200
        if got != w:
            diffs.append(f'{r}: expected {w:#x}, got {got:#x}')
    # flags
    want_fl = exp['flags'] if exp['flags'] is not None else (init['flags'] or set())
    want_fl = set(want_fl) & set(CHECKED)
    undef = case['undef']
    got_fl = flags_of(efl)
    for f in CHECKED:
        if f in undef:
            continue
        if (f in want_fl) != (f in got_fl):
            diffs.append(f'{f}: expected {int(f in want_fl)}, got {int(f in got_fl)}')
    # memory
    for (addr, data), got_hex in zip(exp['mem'], out['mem']):
        if got_hex == '?':
            diffs.append(f'memory {addr:#x}: not mapped natively')
            continue
        got = bytes.fromhex(got_hex)
        w = data
        if pushf and len(w) in (2, 4, 8):
            # the pushed image has IF=1 at CPL3 (bit 9); the emulator runs with IF as given
            mask = ~0x200 & ((1 << 8 * len(w)) - 1)
            g2 = int.from_bytes(got, 'little') & mask
            w2 = int.from_bytes(w, 'little') & mask
            if g2 != w2:
                diffs.append(f'memory {addr:#x}: expected {int.from_bytes(w, "little"):#x}, got {int.from_bytes(got, "little"):#x} (bit 9 ignored)')
            continue
        if got != w:
            diffs.append(f'memory {addr:#x}: expected {w.hex()}, got {got.hex()}')
    return diffs


def run_file(path, args):
    cases = parse_file(path)
    name = os.path.basename(path)
    tmp = args.keep or tempfile.mkdtemp(prefix='x86lab-verify-')
    os.makedirs(tmp, exist_ok=True)
    runnable, skipped, notes = [], [], []
    for c in cases:
        assemble(c, tmp)
        c['undef'] = undefined_flags(c)
        iu = iced_undefined_flags(c)
        if iu is not None:
            fl_exp = c['exp']['flags']
            risky = c['undef'] - iu
            if risky and not c['exp']['exception']:
                notes.append(f'NOTE {c["where"]}: SDM leaves {",".join(sorted(risky))} undefined '
                             f'but iced-x86 does not mask it: {c["asm"]}')
        why = skip_reason(c)
        if why:
            skipped.append((c, why))
        else:
            runnable.append(c)
    results = {}
    if runnable:
        csrc = os.path.join(tmp, name.replace('.txt', '') + '.c')
        exe = csrc[:-2]
        with open(csrc, 'w') as f:
            f.write(c_program(runnable))
        r = subprocess.run(['gcc', '-O0', '-static-pie', '-fno-stack-protector',
                            '-w', '-o', exe, csrc], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f'gcc failed for {name}:\n{r.stderr}')
        r = subprocess.run([exe], capture_output=True, text=True, timeout=600)
        for line in r.stdout.splitlines():
            p = line.split()
            if p[0] == 'B':
                results[int(p[1])] = 'bad'
            elif p[0] == 'L':
                results[int(p[1])] = 'noldt'
            elif p[0] == 'R':
                nums = [int(x, 16) for x in p[2:22]]
                results[int(p[1])] = {'sig': nums[0], 'trapno': nums[1], 'rip': nums[2],
                                      'efl': nums[3], 'regs': nums[4:20], 'mem': p[22:]}
        if r.returncode != 0:
            print(f'{name}: native runner exited with {r.returncode}: {r.stderr.strip()}')
    npass = nfail = 0
    for i, c in enumerate(runnable):
        out = results.get(i)
        if out == 'noldt':
            skipped.append((c, 'modify_ldt() is not available: no 16-bit code segments'))
            continue
        if out is None:
            diffs = ['no result (runner crashed?)']
        elif out == 'bad':
            diffs = ['initial memory outside the natively mapped ranges']
        else:
            diffs = compare(c, out)
        if diffs:
            nfail += 1
            print(f'FAIL {c["where"]}: {c["line"].strip()}')
            for d in diffs:
                print(f'     {d}')
        else:
            npass += 1
            if not args.quiet:
                print(f'PASS {c["where"]}: {c["asm"]}')
    for c, why in skipped:
        if not args.quiet:
            print(f'SKIP {c["where"]}: {why}: {c["asm"]}')
    if args.notes:
        for n in notes:
            print(n)
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f'{name}: {npass} passed, {nfail} failed, {len(skipped)} skipped')
    return npass, nfail, len(skipped)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('files', nargs='*')
    ap.add_argument('-q', '--quiet', action='store_true',
                    help='print only failures and the totals (not PASS/SKIP lines)')
    ap.add_argument('--notes', action='store_true',
                    help='list cases where a flag the SDM leaves undefined is not masked by iced-x86')
    ap.add_argument('--keep', metavar='DIR', help='keep the generated sources in DIR')
    args = ap.parse_args()
    if platform.machine() not in ('x86_64', 'AMD64') or not sys.platform.startswith('linux'):
        sys.exit('verify_native.py needs an x86-64 Linux host')
    for tool in ('nasm', 'gcc'):
        if not shutil.which(tool):
            sys.exit(f'verify_native.py needs {tool} (apt-get install -y {tool})')
    files = args.files or sorted(glob.glob(os.path.join(HERE, '*.txt')))
    tot = [0, 0, 0]
    for f in files:
        try:
            r = run_file(f, args)
        except CaseError as e:
            print(f'ERROR {e}')
            tot[1] += 1
            continue
        for i in range(3):
            tot[i] += r[i]
    print(f'{tot[0]} passed, {tot[1]} failed, {tot[2]} skipped')
    return 1 if tot[1] else 0


if __name__ == '__main__':
    sys.exit(main())
