/*
 * interp.c - a small stack-machine bytecode VM.  A tiny assembler (labels
 * and fixups) builds five programs - iterative factorials, recursive
 * Fibonacci, a sieve of Eratosthenes, GCD/Collatz statistics and a
 * deliberately trapping division by zero - and each program is run by three
 * interchangeable dispatchers:
 *   - a big switch (gcc emits a jump table: jmp *table(,reg,8)),
 *   - computed goto with a label-address table (GNU C: jmp *reg),
 *   - a table of handler functions (indirect calls).
 * All three must produce the same output, the same final state and the same
 * executed-op counts; the report prints them once.
 */
#include "x86lab.h"

enum op {
    OP_HALT, OP_PUSH, OP_POP, OP_DUP, OP_SWAP, OP_OVER, OP_ROT,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_NEG,
    OP_AND, OP_OR, OP_XOR, OP_NOT, OP_SHL, OP_SHR,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    OP_JMP, OP_JZ, OP_JNZ, OP_CALL, OP_RET, OP_ENTER,
    OP_LOAD, OP_STORE, OP_GLOAD, OP_GSTORE, OP_ALOAD, OP_ASTORE,
    OP_INC, OP_DEC, OP_PRINT, OP_PRINTC,
    OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
    "halt", "push", "pop", "dup", "swap", "over", "rot",
    "add", "sub", "mul", "div", "mod", "neg",
    "and", "or", "xor", "not", "shl", "shr",
    "eq", "ne", "lt", "le", "gt", "ge",
    "jmp", "jz", "jnz", "call", "ret", "enter",
    "load", "store", "gload", "gstore", "aload", "astore",
    "inc", "dec", "print", "printc",
};

/* ---- assembler ------------------------------------------------------------ */

#define CODE_MAX 1024
#define LABEL_MAX 32

static int32_t code[CODE_MAX];
static int code_len;
static int label_pos[LABEL_MAX];
static int fixup_at[LABEL_MAX * 4];
static int fixup_label[LABEL_MAX * 4];
static int fixup_count;

static void asm_reset(void)
{
    code_len = 0;
    fixup_count = 0;
    for (int i = 0; i < LABEL_MAX; i++)
        label_pos[i] = -1;
}

static void op(enum op o)
{
    code[code_len++] = (int32_t)o;
}

static void opi(enum op o, int32_t imm)
{
    code[code_len++] = (int32_t)o;
    code[code_len++] = imm;
}

/* An op whose operand is a label, resolved by asm_link(). */
static void opl(enum op o, int label)
{
    code[code_len++] = (int32_t)o;
    fixup_at[fixup_count] = code_len;
    fixup_label[fixup_count++] = label;
    code[code_len++] = -1;
}

static void label(int l)
{
    label_pos[l] = code_len;
}

static int asm_link(void)
{
    for (int i = 0; i < fixup_count; i++) {
        int pos = label_pos[fixup_label[i]];
        if (pos < 0)
            return 0;
        code[fixup_at[i]] = pos;
    }
    return 1;
}

/* ---- machine state -------------------------------------------------------- */

#define STACK_MAX 256
#define FRAMES_MAX 64
#define GLOBALS 16
#define MEMORY 1024
#define OUT_MAX 1024

enum trap {
    TRAP_NONE, TRAP_DIV_ZERO, TRAP_STACK, TRAP_FRAMES, TRAP_MEMORY, TRAP_BAD_OP,
    TRAP_STEPS
};

static const char *const trap_names[] = {
    "none", "division by zero", "stack overflow/underflow", "call depth",
    "memory bounds", "bad opcode", "step limit",
};

struct vm {
    int64_t stack[STACK_MAX];
    int sp;
    int ret_pc[FRAMES_MAX];
    int ret_fp[FRAMES_MAX];
    int frames;
    int fp;
    int pc;
    int64_t globals[GLOBALS];
    int64_t mem[MEMORY];
    enum trap trap;
    int trap_pc;
    uint32_t steps;
    uint32_t op_counts[OP_COUNT];
    int max_depth;
    char out[OUT_MAX];
    int out_len;
};

static struct vm vms[3];

#define STEP_LIMIT 2000000u

static void vm_reset(struct vm *m)
{
    /* Plain loops: this also makes gcc use memset or rep stos on big arrays. */
    for (int i = 0; i < STACK_MAX; i++)
        m->stack[i] = 0;
    for (int i = 0; i < GLOBALS; i++)
        m->globals[i] = 0;
    for (int i = 0; i < MEMORY; i++)
        m->mem[i] = 0;
    for (int i = 0; i < OP_COUNT; i++)
        m->op_counts[i] = 0;
    m->sp = m->frames = m->fp = m->pc = 0;
    m->trap = TRAP_NONE;
    m->trap_pc = 0;
    m->steps = 0;
    m->max_depth = 0;
    m->out_len = 0;
}

static void vm_out_char(struct vm *m, char c)
{
    if (m->out_len < OUT_MAX)
        m->out[m->out_len++] = c;
}

static void vm_out_int(struct vm *m, int64_t v)
{
    char buf[24];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        buf[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        vm_out_char(m, '-');
    while (n)
        vm_out_char(m, buf[--n]);
}

/* Shared helpers for the three dispatchers. Return 0 to stop. */
static int vm_trap(struct vm *m, enum trap t)
{
    m->trap = t;
    m->trap_pc = m->pc;
    return 0;
}

#define NEED(n)                                                                \
    do {                                                                       \
        if (m->sp < (n))                                                       \
            return vm_trap(m, TRAP_STACK);                                     \
    } while (0)
#define ROOM(n)                                                                \
    do {                                                                       \
        if (m->sp + (n) > STACK_MAX)                                           \
            return vm_trap(m, TRAP_STACK);                                     \
    } while (0)
#define TOP m->stack[m->sp - 1]
#define NEXT m->stack[m->sp - 2]
#define IMM code[m->pc + 1]

/* Executes one instruction at m->pc.  Used by the handler-table dispatcher and,
 * through the same macros, mirrored by the two inline dispatchers below. */
static int binop(struct vm *m, enum op o)
{
    NEED(2);
    int64_t b = TOP, a = NEXT, r;
    uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
    switch (o) {
    case OP_ADD: r = (int64_t)(ua + ub); break;
    case OP_SUB: r = (int64_t)(ua - ub); break;
    case OP_MUL: r = (int64_t)(ua * ub); break;
    case OP_DIV:
    case OP_MOD:
        if (b == 0)
            return vm_trap(m, TRAP_DIV_ZERO);
        if (a == INT64_MIN && b == -1)
            r = o == OP_DIV ? a : 0;
        else
            r = o == OP_DIV ? a / b : a % b;
        break;
    case OP_AND: r = a & b; break;
    case OP_OR: r = a | b; break;
    case OP_XOR: r = a ^ b; break;
    case OP_SHL: r = (int64_t)(ua << (ub & 63)); break;
    case OP_SHR: r = a >> (ub & 63); break;
    case OP_EQ: r = a == b; break;
    case OP_NE: r = a != b; break;
    case OP_LT: r = a < b; break;
    case OP_LE: r = a <= b; break;
    case OP_GT: r = a > b; break;
    case OP_GE: r = a >= b; break;
    default: return vm_trap(m, TRAP_BAD_OP);
    }
    m->sp--;
    TOP = r;
    m->pc++;
    return 1;
}

static int do_call(struct vm *m, int target)
{
    if (m->frames >= FRAMES_MAX)
        return vm_trap(m, TRAP_FRAMES);
    m->ret_pc[m->frames] = m->pc + 2;
    m->ret_fp[m->frames] = m->fp;
    m->frames++;
    if (m->frames > m->max_depth)
        m->max_depth = m->frames;
    /* CALL's operand is the target; the callee's first op is ENTER nargs. */
    m->pc = target;
    return 1;
}

static int do_enter(struct vm *m, int nargs)
{
    NEED(nargs);
    m->fp = m->sp - nargs;
    m->pc += 2;
    return 1;
}

static int do_ret(struct vm *m)
{
    NEED(m->fp + 1);
    if (m->frames == 0)
        return vm_trap(m, TRAP_FRAMES);
    int64_t result = TOP;
    m->sp = m->fp;
    m->stack[m->sp++] = result;
    m->frames--;
    m->pc = m->ret_pc[m->frames];
    m->fp = m->ret_fp[m->frames];
    return 1;
}

static int do_mem(struct vm *m, enum op o)
{
    if (o == OP_ALOAD) {
        NEED(1);
        int64_t a = TOP;
        if (a < 0 || a >= MEMORY)
            return vm_trap(m, TRAP_MEMORY);
        TOP = m->mem[a];
    } else {
        NEED(2);
        int64_t a = TOP;
        if (a < 0 || a >= MEMORY)
            return vm_trap(m, TRAP_MEMORY);
        m->mem[a] = NEXT;
        m->sp -= 2;
    }
    m->pc++;
    return 1;
}

/* ---- dispatcher 1: switch ------------------------------------------------- */

/* run_switch returns nothing, so it has its own stack-check macros. */
#define SW_NEED(n)                                                             \
    do {                                                                       \
        if (m->sp < (n)) {                                                     \
            vm_trap(m, TRAP_STACK);                                            \
            return;                                                            \
        }                                                                      \
    } while (0)
#define SW_ROOM(n)                                                             \
    do {                                                                       \
        if (m->sp + (n) > STACK_MAX) {                                         \
            vm_trap(m, TRAP_STACK);                                            \
            return;                                                            \
        }                                                                      \
    } while (0)

static void run_switch(struct vm *m)
{
    for (;;) {
        if (m->steps >= STEP_LIMIT) {
            vm_trap(m, TRAP_STEPS);
            return;
        }
        if (m->pc < 0 || m->pc >= code_len) {
            vm_trap(m, TRAP_BAD_OP);
            return;
        }
        int32_t o = code[m->pc];
        m->steps++;
        if (o >= 0 && o < OP_COUNT)
            m->op_counts[o]++;
        int64_t t;
        switch (o) {
        case OP_HALT:
            return;
        case OP_PUSH:
            SW_ROOM(1);
            m->stack[m->sp++] = IMM;
            m->pc += 2;
            break;
        case OP_POP:
            SW_NEED(1);
            m->sp--;
            m->pc++;
            break;
        case OP_DUP:
            SW_NEED(1);
            SW_ROOM(1);
            m->stack[m->sp] = TOP;
            m->sp++;
            m->pc++;
            break;
        case OP_SWAP:
            SW_NEED(2);
            t = TOP;
            TOP = NEXT;
            NEXT = t;
            m->pc++;
            break;
        case OP_OVER:
            SW_NEED(2);
            SW_ROOM(1);
            m->stack[m->sp] = NEXT;
            m->sp++;
            m->pc++;
            break;
        case OP_ROT: /* a b c -> b c a */
            SW_NEED(3);
            t = m->stack[m->sp - 3];
            m->stack[m->sp - 3] = NEXT;
            NEXT = TOP;
            TOP = t;
            m->pc++;
            break;
        case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MOD:
        case OP_AND: case OP_OR: case OP_XOR: case OP_SHL: case OP_SHR:
        case OP_EQ: case OP_NE: case OP_LT: case OP_LE: case OP_GT: case OP_GE:
            if (!binop(m, (enum op)o))
                return;
            break;
        case OP_NEG:
            SW_NEED(1);
            TOP = (int64_t)(0 - (uint64_t)TOP);
            m->pc++;
            break;
        case OP_NOT:
            SW_NEED(1);
            TOP = !TOP;
            m->pc++;
            break;
        case OP_JMP:
            m->pc = IMM;
            break;
        case OP_JZ:
            SW_NEED(1);
            m->pc = m->stack[--m->sp] == 0 ? IMM : m->pc + 2;
            break;
        case OP_JNZ:
            SW_NEED(1);
            m->pc = m->stack[--m->sp] != 0 ? IMM : m->pc + 2;
            break;
        case OP_CALL:
            if (!do_call(m, IMM))
                return;
            break;
        case OP_RET:
            if (!do_ret(m))
                return;
            break;
        case OP_ENTER:
            if (!do_enter(m, IMM))
                return;
            break;
        case OP_LOAD:
            SW_ROOM(1);
            m->stack[m->sp] = m->stack[m->fp + IMM];
            m->sp++;
            m->pc += 2;
            break;
        case OP_STORE:
            SW_NEED(1);
            m->stack[m->fp + IMM] = m->stack[--m->sp];
            m->pc += 2;
            break;
        case OP_GLOAD:
            SW_ROOM(1);
            m->stack[m->sp++] = m->globals[IMM];
            m->pc += 2;
            break;
        case OP_GSTORE:
            SW_NEED(1);
            m->globals[IMM] = m->stack[--m->sp];
            m->pc += 2;
            break;
        case OP_ALOAD:
        case OP_ASTORE:
            if (!do_mem(m, (enum op)o))
                return;
            break;
        case OP_INC:
            SW_NEED(1);
            TOP++;
            m->pc++;
            break;
        case OP_DEC:
            SW_NEED(1);
            TOP--;
            m->pc++;
            break;
        case OP_PRINT:
            SW_NEED(1);
            vm_out_int(m, m->stack[--m->sp]);
            m->pc++;
            break;
        case OP_PRINTC:
            SW_NEED(1);
            vm_out_char(m, (char)m->stack[--m->sp]);
            m->pc++;
            break;
        default:
            vm_trap(m, TRAP_BAD_OP);
            return;
        }
    }
}

/* ---- dispatcher 2: computed goto (GNU C labels as values) --------------------- */

static void run_goto(struct vm *m)
{
    static const void *const targets[OP_COUNT] = {
        &&l_halt, &&l_push, &&l_pop, &&l_dup, &&l_swap, &&l_over, &&l_rot,
        &&l_bin, &&l_bin, &&l_bin, &&l_bin, &&l_bin, &&l_neg,
        &&l_bin, &&l_bin, &&l_bin, &&l_not, &&l_bin, &&l_bin,
        &&l_bin, &&l_bin, &&l_bin, &&l_bin, &&l_bin, &&l_bin,
        &&l_jmp, &&l_jz, &&l_jnz, &&l_call, &&l_ret, &&l_enter,
        &&l_load, &&l_store, &&l_gload, &&l_gstore, &&l_mem, &&l_mem,
        &&l_inc, &&l_dec, &&l_print, &&l_printc,
    };
    int32_t o;
    int64_t t;
#define DISPATCH()                                                             \
    do {                                                                       \
        if (m->steps >= STEP_LIMIT) {                                          \
            vm_trap(m, TRAP_STEPS);                                            \
            return;                                                            \
        }                                                                      \
        if (m->pc < 0 || m->pc >= code_len) {                                  \
            vm_trap(m, TRAP_BAD_OP);                                           \
            return;                                                            \
        }                                                                      \
        o = code[m->pc];                                                       \
        m->steps++;                                                            \
        if (o < 0 || o >= OP_COUNT) {                                          \
            vm_trap(m, TRAP_BAD_OP);                                           \
            return;                                                            \
        }                                                                      \
        m->op_counts[o]++;                                                     \
        goto *targets[o];                                                      \
    } while (0)
#define FAIL_IF(cond)                                                          \
    do {                                                                       \
        if (cond) {                                                            \
            vm_trap(m, TRAP_STACK);                                            \
            return;                                                            \
        }                                                                      \
    } while (0)

    DISPATCH();
l_halt:
    return;
l_push:
    FAIL_IF(m->sp + 1 > STACK_MAX);
    m->stack[m->sp++] = IMM;
    m->pc += 2;
    DISPATCH();
l_pop:
    FAIL_IF(m->sp < 1);
    m->sp--;
    m->pc++;
    DISPATCH();
l_dup:
    FAIL_IF(m->sp < 1 || m->sp + 1 > STACK_MAX);
    m->stack[m->sp] = TOP;
    m->sp++;
    m->pc++;
    DISPATCH();
l_swap:
    FAIL_IF(m->sp < 2);
    t = TOP;
    TOP = NEXT;
    NEXT = t;
    m->pc++;
    DISPATCH();
l_over:
    FAIL_IF(m->sp < 2 || m->sp + 1 > STACK_MAX);
    m->stack[m->sp] = NEXT;
    m->sp++;
    m->pc++;
    DISPATCH();
l_rot:
    FAIL_IF(m->sp < 3);
    t = m->stack[m->sp - 3];
    m->stack[m->sp - 3] = NEXT;
    NEXT = TOP;
    TOP = t;
    m->pc++;
    DISPATCH();
l_bin:
    if (!binop(m, (enum op)o))
        return;
    DISPATCH();
l_neg:
    FAIL_IF(m->sp < 1);
    TOP = (int64_t)(0 - (uint64_t)TOP);
    m->pc++;
    DISPATCH();
l_not:
    FAIL_IF(m->sp < 1);
    TOP = !TOP;
    m->pc++;
    DISPATCH();
l_jmp:
    m->pc = IMM;
    DISPATCH();
l_jz:
    FAIL_IF(m->sp < 1);
    m->pc = m->stack[--m->sp] == 0 ? IMM : m->pc + 2;
    DISPATCH();
l_jnz:
    FAIL_IF(m->sp < 1);
    m->pc = m->stack[--m->sp] != 0 ? IMM : m->pc + 2;
    DISPATCH();
l_call:
    if (!do_call(m, IMM))
        return;
    DISPATCH();
l_ret:
    if (!do_ret(m))
        return;
    DISPATCH();
l_enter:
    if (!do_enter(m, IMM))
        return;
    DISPATCH();
l_load:
    FAIL_IF(m->sp + 1 > STACK_MAX);
    m->stack[m->sp] = m->stack[m->fp + IMM];
    m->sp++;
    m->pc += 2;
    DISPATCH();
l_store:
    FAIL_IF(m->sp < 1);
    m->stack[m->fp + IMM] = m->stack[--m->sp];
    m->pc += 2;
    DISPATCH();
l_gload:
    FAIL_IF(m->sp + 1 > STACK_MAX);
    m->stack[m->sp++] = m->globals[IMM];
    m->pc += 2;
    DISPATCH();
l_gstore:
    FAIL_IF(m->sp < 1);
    m->globals[IMM] = m->stack[--m->sp];
    m->pc += 2;
    DISPATCH();
l_mem:
    if (!do_mem(m, (enum op)o))
        return;
    DISPATCH();
l_inc:
    FAIL_IF(m->sp < 1);
    TOP++;
    m->pc++;
    DISPATCH();
l_dec:
    FAIL_IF(m->sp < 1);
    TOP--;
    m->pc++;
    DISPATCH();
l_print:
    FAIL_IF(m->sp < 1);
    vm_out_int(m, m->stack[--m->sp]);
    m->pc++;
    DISPATCH();
l_printc:
    FAIL_IF(m->sp < 1);
    vm_out_char(m, (char)m->stack[--m->sp]);
    m->pc++;
    DISPATCH();
#undef DISPATCH
#undef FAIL_IF
}

/* ---- dispatcher 3: table of handler functions ---------------------------------- */

typedef int (*handler)(struct vm *m, enum op o);

static int h_halt(struct vm *m, enum op o)
{
    (void)m;
    (void)o;
    return 0;
}

static int h_stack(struct vm *m, enum op o)
{
    int64_t t;
    switch (o) {
    case OP_PUSH:
        ROOM(1);
        m->stack[m->sp++] = IMM;
        m->pc += 2;
        return 1;
    case OP_POP:
        NEED(1);
        m->sp--;
        break;
    case OP_DUP:
        NEED(1);
        ROOM(1);
        m->stack[m->sp] = TOP;
        m->sp++;
        break;
    case OP_SWAP:
        NEED(2);
        t = TOP;
        TOP = NEXT;
        NEXT = t;
        break;
    case OP_OVER:
        NEED(2);
        ROOM(1);
        m->stack[m->sp] = NEXT;
        m->sp++;
        break;
    default: /* OP_ROT */
        NEED(3);
        t = m->stack[m->sp - 3];
        m->stack[m->sp - 3] = NEXT;
        NEXT = TOP;
        TOP = t;
        break;
    }
    m->pc++;
    return 1;
}

static int h_unary(struct vm *m, enum op o)
{
    NEED(1);
    if (o == OP_NEG)
        TOP = (int64_t)(0 - (uint64_t)TOP);
    else if (o == OP_NOT)
        TOP = !TOP;
    else if (o == OP_INC)
        TOP++;
    else
        TOP--;
    m->pc++;
    return 1;
}

static int h_jump(struct vm *m, enum op o)
{
    if (o == OP_JMP) {
        m->pc = IMM;
        return 1;
    }
    NEED(1);
    int64_t v = m->stack[--m->sp];
    int taken = o == OP_JZ ? v == 0 : v != 0;
    m->pc = taken ? IMM : m->pc + 2;
    return 1;
}

static int h_call(struct vm *m, enum op o)
{
    (void)o;
    return do_call(m, IMM);
}

static int h_ret(struct vm *m, enum op o)
{
    (void)o;
    return do_ret(m);
}

static int h_enter(struct vm *m, enum op o)
{
    (void)o;
    return do_enter(m, IMM);
}

static int h_var(struct vm *m, enum op o)
{
    switch (o) {
    case OP_LOAD:
        ROOM(1);
        m->stack[m->sp] = m->stack[m->fp + IMM];
        m->sp++;
        break;
    case OP_STORE:
        NEED(1);
        m->stack[m->fp + IMM] = m->stack[--m->sp];
        break;
    case OP_GLOAD:
        ROOM(1);
        m->stack[m->sp++] = m->globals[IMM];
        break;
    default: /* OP_GSTORE */
        NEED(1);
        m->globals[IMM] = m->stack[--m->sp];
        break;
    }
    m->pc += 2;
    return 1;
}

static int h_print(struct vm *m, enum op o)
{
    NEED(1);
    int64_t v = m->stack[--m->sp];
    if (o == OP_PRINT)
        vm_out_int(m, v);
    else
        vm_out_char(m, (char)v);
    m->pc++;
    return 1;
}

static const handler handlers[OP_COUNT] = {
    h_halt, h_stack, h_stack, h_stack, h_stack, h_stack, h_stack,
    binop, binop, binop, binop, binop, h_unary,
    binop, binop, binop, h_unary, binop, binop,
    binop, binop, binop, binop, binop, binop,
    h_jump, h_jump, h_jump, h_call, h_ret, h_enter,
    h_var, h_var, h_var, h_var, do_mem, do_mem,
    h_unary, h_unary, h_print, h_print,
};

static void run_table(struct vm *m)
{
    for (;;) {
        if (m->steps >= STEP_LIMIT) {
            vm_trap(m, TRAP_STEPS);
            return;
        }
        if (m->pc < 0 || m->pc >= code_len) {
            vm_trap(m, TRAP_BAD_OP);
            return;
        }
        int32_t o = code[m->pc];
        m->steps++;
        if (o < 0 || o >= OP_COUNT) {
            vm_trap(m, TRAP_BAD_OP);
            return;
        }
        m->op_counts[o]++;
        if (!handlers[o](m, (enum op)o))
            return;
    }
}

/* ---- programs --------------------------------------------------------------- */

enum { G_N, G_F, G_I, G_J, G_COUNT, G_BEST, G_BESTN };

/* for n = 1..20: print n "! = " n! */
static void prog_factorial(void)
{
    opi(OP_PUSH, 1);
    opi(OP_GSTORE, G_N);
    opi(OP_PUSH, 1);
    opi(OP_GSTORE, G_F);
    label(0);
    opi(OP_GLOAD, G_F);
    opi(OP_GLOAD, G_N);
    op(OP_MUL);
    opi(OP_GSTORE, G_F);
    opi(OP_GLOAD, G_N);
    op(OP_PRINT);
    opi(OP_PUSH, '!');
    op(OP_PRINTC);
    opi(OP_PUSH, '=');
    op(OP_PRINTC);
    opi(OP_GLOAD, G_F);
    op(OP_PRINT);
    opi(OP_PUSH, '\n');
    op(OP_PRINTC);
    opi(OP_GLOAD, G_N);
    op(OP_INC);
    op(OP_DUP);
    opi(OP_GSTORE, G_N);
    opi(OP_PUSH, 20);
    op(OP_LE);
    opl(OP_JNZ, 0);
    op(OP_HALT);
}

/* fib(n) = n < 2 ? n : fib(n-1) + fib(n-2), printed for n = 0..17 */
static void prog_fib(void)
{
    enum { L_LOOP, L_FIB, L_BASE };
    opi(OP_PUSH, 0);
    opi(OP_GSTORE, G_I);
    label(L_LOOP);
    opi(OP_GLOAD, G_I);
    opl(OP_CALL, L_FIB);
    op(OP_PRINT);
    opi(OP_PUSH, ' ');
    op(OP_PRINTC);
    opi(OP_GLOAD, G_I);
    op(OP_INC);
    op(OP_DUP);
    opi(OP_GSTORE, G_I);
    opi(OP_PUSH, 17);
    op(OP_GT);
    opl(OP_JZ, L_LOOP);
    opi(OP_PUSH, '\n');
    op(OP_PRINTC);
    op(OP_HALT);
    label(L_FIB);
    opi(OP_ENTER, 1);
    opi(OP_LOAD, 0);
    opi(OP_PUSH, 2);
    op(OP_LT);
    opl(OP_JNZ, L_BASE);
    opi(OP_LOAD, 0);
    op(OP_DEC);
    opl(OP_CALL, L_FIB);
    opi(OP_LOAD, 0);
    opi(OP_PUSH, 2);
    op(OP_SUB);
    opl(OP_CALL, L_FIB);
    op(OP_ADD);
    op(OP_RET);
    label(L_BASE);
    opi(OP_LOAD, 0);
    op(OP_RET);
}

/* Sieve of Eratosthenes below 1000 in VM memory; prints primes < 60 and the count. */
static void prog_sieve(void)
{
    enum { L_OUTER, L_INNER, L_SKIP, L_COUNT, L_NOTP, L_NOPRINT };
    const int limit = 1000;
    /* i = 2 */
    opi(OP_PUSH, 2);
    opi(OP_GSTORE, G_I);
    label(L_OUTER);
    /* if mem[i] != 0 (composite) skip */
    opi(OP_GLOAD, G_I);
    op(OP_ALOAD);
    opl(OP_JNZ, L_SKIP);
    /* j = i * i */
    opi(OP_GLOAD, G_I);
    op(OP_DUP);
    op(OP_MUL);
    opi(OP_GSTORE, G_J);
    label(L_INNER);
    opi(OP_GLOAD, G_J);
    opi(OP_PUSH, limit);
    op(OP_LT);
    opl(OP_JZ, L_SKIP);
    opi(OP_PUSH, 1);
    opi(OP_GLOAD, G_J);
    op(OP_ASTORE);
    opi(OP_GLOAD, G_J);
    opi(OP_GLOAD, G_I);
    op(OP_ADD);
    opi(OP_GSTORE, G_J);
    opl(OP_JMP, L_INNER);
    label(L_SKIP);
    opi(OP_GLOAD, G_I);
    op(OP_INC);
    op(OP_DUP);
    opi(OP_GSTORE, G_I);
    op(OP_DUP);
    op(OP_MUL);
    opi(OP_PUSH, limit);
    op(OP_LT);
    opl(OP_JNZ, L_OUTER);
    /* count and print */
    opi(OP_PUSH, 2);
    opi(OP_GSTORE, G_I);
    label(L_COUNT);
    opi(OP_GLOAD, G_I);
    op(OP_ALOAD);
    opl(OP_JNZ, L_NOTP);
    opi(OP_GLOAD, G_COUNT);
    op(OP_INC);
    opi(OP_GSTORE, G_COUNT);
    opi(OP_GLOAD, G_I);
    opi(OP_PUSH, 60);
    op(OP_GE);
    opl(OP_JNZ, L_NOPRINT);
    opi(OP_GLOAD, G_I);
    op(OP_PRINT);
    opi(OP_PUSH, ' ');
    op(OP_PRINTC);
    label(L_NOPRINT);
    label(L_NOTP);
    opi(OP_GLOAD, G_I);
    op(OP_INC);
    op(OP_DUP);
    opi(OP_GSTORE, G_I);
    opi(OP_PUSH, limit);
    op(OP_LT);
    opl(OP_JNZ, L_COUNT);
    opi(OP_PUSH, '#');
    op(OP_PRINTC);
    opi(OP_GLOAD, G_COUNT);
    op(OP_PRINT);
    opi(OP_PUSH, '\n');
    op(OP_PRINTC);
    op(OP_HALT);
}

/* gcd(a, b) by Euclid for a few pairs; longest Collatz chain for n < 200. */
static void prog_gcd_collatz(void)
{
    enum { L_GCD, L_GCD_DONE, L_COL, L_COL_LOOP, L_COL_DONE, L_ODD, L_NEXT, L_NOTBEST };
    static const int32_t pairs[][2] = {{1071, 462}, {270, 192}, {17, 5}, {-48, 18}, {0, 9}};
    for (unsigned i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        opi(OP_PUSH, pairs[i][0]);
        opi(OP_PUSH, pairs[i][1]);
        opl(OP_CALL, L_GCD);
        op(OP_PRINT);
        opi(OP_PUSH, ' ');
        op(OP_PRINTC);
    }
    /* best = 0; for n = 1; n < 200; n++ */
    opi(OP_PUSH, 1);
    opi(OP_GSTORE, G_N);
    label(L_NEXT);
    opi(OP_GLOAD, G_N);
    opl(OP_CALL, L_COL);
    op(OP_DUP);
    opi(OP_GLOAD, G_BEST);
    op(OP_GT);
    opl(OP_JZ, L_NOTBEST);
    op(OP_DUP);
    opi(OP_GSTORE, G_BEST);
    opi(OP_GLOAD, G_N);
    opi(OP_GSTORE, G_BESTN);
    label(L_NOTBEST);
    opi(OP_GLOAD, G_COUNT);
    op(OP_ADD);
    opi(OP_GSTORE, G_COUNT);
    opi(OP_GLOAD, G_N);
    op(OP_INC);
    op(OP_DUP);
    opi(OP_GSTORE, G_N);
    opi(OP_PUSH, 200);
    op(OP_LT);
    opl(OP_JNZ, L_NEXT);
    opi(OP_PUSH, '\n');
    op(OP_PRINTC);
    opi(OP_GLOAD, G_BESTN);
    op(OP_PRINT);
    opi(OP_PUSH, ':');
    op(OP_PRINTC);
    opi(OP_GLOAD, G_BEST);
    op(OP_PRINT);
    opi(OP_PUSH, ' ');
    op(OP_PRINTC);
    opi(OP_GLOAD, G_COUNT);
    op(OP_PRINT);
    opi(OP_PUSH, '\n');
    op(OP_PRINTC);
    op(OP_HALT);

    /* gcd(a, b): while b != 0: (a, b) = (b, a % b); return |a| */
    label(L_GCD);
    opi(OP_ENTER, 2);
    label(L_GCD + 8);
    opi(OP_LOAD, 1);
    opl(OP_JZ, L_GCD_DONE);
    opi(OP_LOAD, 1);
    opi(OP_LOAD, 0);
    opi(OP_LOAD, 1);
    op(OP_MOD);
    opi(OP_STORE, 1);
    opi(OP_STORE, 0);
    opl(OP_JMP, L_GCD + 8);
    label(L_GCD_DONE);
    opi(OP_LOAD, 0);
    op(OP_DUP);
    opi(OP_PUSH, 0);
    op(OP_LT);
    opl(OP_JZ, L_GCD_DONE + 8);
    op(OP_NEG);
    label(L_GCD_DONE + 8);
    op(OP_RET);

    /* collatz(n): steps until n == 1 (local 1 counts) */
    label(L_COL);
    opi(OP_ENTER, 1);
    opi(OP_PUSH, 0);
    label(L_COL_LOOP);
    opi(OP_LOAD, 0);
    opi(OP_PUSH, 1);
    op(OP_EQ);
    opl(OP_JNZ, L_COL_DONE);
    opi(OP_LOAD, 1);
    op(OP_INC);
    opi(OP_STORE, 1);
    opi(OP_LOAD, 0);
    opi(OP_PUSH, 1);
    op(OP_AND);
    opl(OP_JNZ, L_ODD);
    opi(OP_LOAD, 0);
    opi(OP_PUSH, 1);
    op(OP_SHR);
    opi(OP_STORE, 0);
    opl(OP_JMP, L_COL_LOOP);
    label(L_ODD);
    opi(OP_LOAD, 0);
    opi(OP_PUSH, 3);
    op(OP_MUL);
    op(OP_INC);
    opi(OP_STORE, 0);
    opl(OP_JMP, L_COL_LOOP);
    label(L_COL_DONE);
    opi(OP_LOAD, 1);
    op(OP_RET);
}

/* Stack juggling, shifts and bit ops, then a division by zero (a trap). */
static void prog_trap(void)
{
    opi(OP_PUSH, 5);
    opi(OP_PUSH, 7);
    opi(OP_PUSH, 9);
    op(OP_ROT);     /* 7 9 5 */
    op(OP_OVER);    /* 7 9 5 9 */
    op(OP_SUB);     /* 7 9 -4 */
    op(OP_SWAP);    /* 7 -4 9 */
    opi(OP_PUSH, 3);
    op(OP_SHL);     /* 7 -4 72 */
    op(OP_XOR);     /* 7 -76 */
    op(OP_DUP);
    op(OP_PRINT);
    opi(OP_PUSH, ' ');
    op(OP_PRINTC);
    opi(OP_PUSH, 2);
    op(OP_SHR);     /* 7 -19 */
    op(OP_OR);      /* -17 */
    op(OP_DUP);
    op(OP_PRINT);
    opi(OP_PUSH, ' ');
    op(OP_PRINTC);
    op(OP_NOT);
    op(OP_PRINT);
    opi(OP_PUSH, '\n');
    op(OP_PRINTC);
    opi(OP_PUSH, 1);
    opi(OP_PUSH, 0);
    op(OP_DIV);
    op(OP_PRINT);
    op(OP_HALT);
}

/* ---- driver ------------------------------------------------------------------- */

static int same_vm(const struct vm *a, const struct vm *b)
{
    if (a->trap != b->trap || a->trap_pc != b->trap_pc || a->steps != b->steps ||
        a->sp != b->sp || a->out_len != b->out_len || a->max_depth != b->max_depth)
        return 0;
    for (int i = 0; i < a->out_len; i++)
        if (a->out[i] != b->out[i])
            return 0;
    for (int i = 0; i < OP_COUNT; i++)
        if (a->op_counts[i] != b->op_counts[i])
            return 0;
    for (int i = 0; i < GLOBALS; i++)
        if (a->globals[i] != b->globals[i])
            return 0;
    for (int i = 0; i < a->sp; i++)
        if (a->stack[i] != b->stack[i])
            return 0;
    return 1;
}

typedef void (*builder)(void);

static void run_program(const char *name, builder build)
{
    asm_reset();
    build();
    check(asm_link(), "labels resolved");
    put_str("program ");
    put_str(name);
    put_str(" (");
    put_udec((unsigned)code_len);
    put_str(" words)\n");

    void (*const runners[3])(struct vm *) = {run_switch, run_goto, run_table};
    for (int r = 0; r < 3; r++) {
        vm_reset(&vms[r]);
        runners[r](&vms[r]);
    }
    struct vm *m = &vms[0];
    for (int i = 0; i < m->out_len; i++)
        put_char(m->out[i]);
    if (m->out_len > 0 && m->out[m->out_len - 1] != '\n')
        put_nl();
    put_str("  steps=");
    put_udec(m->steps);
    put_str(" max-call-depth=");
    put_udec((unsigned)m->max_depth);
    put_str(" final-sp=");
    put_udec((unsigned)m->sp);
    if (m->trap != TRAP_NONE) {
        put_str(" trap=\"");
        put_str(trap_names[m->trap]);
        put_str("\" at pc ");
        put_udec((unsigned)m->trap_pc);
    }
    put_nl();
    /* The three most executed ops. */
    put_str("  hot ops:");
    uint32_t used[OP_COUNT] = {0};
    for (int k = 0; k < 3; k++) {
        int best = -1;
        for (int i = 0; i < OP_COUNT; i++)
            if (!used[i] && m->op_counts[i] > 0 &&
                (best < 0 || m->op_counts[i] > m->op_counts[best]))
                best = i;
        if (best < 0)
            break;
        used[best] = 1;
        put_char(' ');
        put_str(op_names[best]);
        put_char('=');
        put_udec(m->op_counts[best]);
    }
    put_nl();
    check(same_vm(&vms[0], &vms[1]), "switch and computed-goto dispatch agree");
    check(same_vm(&vms[0], &vms[2]), "switch and handler-table dispatch agree");
}

int main(void)
{
    put_str("== interp ==\n");
    run_program("factorial", prog_factorial);
    check(vms[0].globals[G_F] == 2432902008176640000ll, "20!");
    run_program("fibonacci", prog_fib);
    run_program("sieve", prog_sieve);
    check(vms[0].globals[G_COUNT] == 168, "168 primes below 1000");
    run_program("gcd-collatz", prog_gcd_collatz);
    run_program("trap", prog_trap);
    check(vms[0].trap == TRAP_DIV_ZERO, "division by zero trapped");
    return finish("interp");
}
