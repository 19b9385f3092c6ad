#!/bin/sh
# Regenerate the NAME.expected files of the boot-sector test programs by
# running each NAME.asm under QEMU (an independent implementation of x86),
# not under x86lab.  The test suite (tests/boot_programs.rs) does not run
# this script; it only compares x86lab's output with the files written here.
#
# Needs: nasm and qemu-system-i386 (Debian: apt-get install nasm qemu-system-x86).
#
# Usage: tests/programs/boot/regen.sh [NAME...]   (default: every *.asm here)
#
# PROGRAM_DIR=dir runs the programs of another directory (they include this
# directory's lib.inc); QEMU=qemu-system-x86_64 picks the emulator (64-bit
# programs need it; default qemu-system-i386).  DUMP_STATE=1 also records
# QEMU's "info registers" (through its monitor, DUMP_AFTER seconds after
# start, default 3, when the program has halted) in NAME.state.
#
# How a program is run: QEMU's SeaBIOS boots the image (padded to a 1.44 MB
# floppy) and jumps to 0000:7C00; the start-up code in lib.inc then loads
# the program's remaining sectors with int 0x13.  Port 0xE9 is QEMU's
# isa-debugcon and COM1 (0x3F8) a 16550; both are captured into files.  A program ends with
# `cli; hlt` (QEMU then idles until the timeout below kills it) or with
# `out 0xF4, al` (isa-debug-exit: QEMU exits with status AL*2+1).
# A program that exits with a status other than 0 says so in a line
# `; x86lab-exit: N` of its source; the Rust test reads the same line.
# x86lab sends port-0xE9 and UART output to the same stdout, so a program
# must use only one of the two channels (checked below).
set -eu

lib=$(cd "$(dirname "$0")" && pwd)
here=$(cd "${PROGRAM_DIR:-$lib}" && pwd)
cd "$here"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
timeout_s=${QEMU_TIMEOUT:-5}    # seconds per program (they run in parallel)
# QEMU_CPU picks the emulated CPU model (default: max)

if [ $# -eq 0 ]; then
    set -- $(ls *.asm | sed 's/\.asm$//')
fi

for name in "$@"; do
    name=${name%.asm}
    nasm -f bin -i "$here/" -i "$lib/" -o "$tmp/$name.bin" "$name.asm"
    # a 1.44 MB floppy image: sector 0 is the boot sector, whose loader
    # reads the program's other sectors (see lib.inc)
    cp "$tmp/$name.bin" "$tmp/$name.img"
    truncate -s 1474560 "$tmp/$name.img"
    monitor=
    if [ -n "${DUMP_STATE:-}" ]; then
        monitor="-monitor unix:$tmp/$name.mon,server=on,wait=off"
        python3 - "$tmp/$name.mon" "$tmp/$name.state" "${DUMP_AFTER:-3}" <<'PY' &
import socket, sys, time
path, out, after = sys.argv[1], sys.argv[2], float(sys.argv[3])
time.sleep(after)
s = socket.socket(socket.AF_UNIX)
s.connect(path)
s.sendall(b"info registers\n")
time.sleep(0.5)
s.settimeout(0.5)
data = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except socket.timeout:
    pass
text = data.decode("latin-1").replace("\r", "")
start = min(i for i in (text.find("RAX="), text.find("EAX="), len(text)) if i >= 0)
open(out, "w").write(text[start:text.rfind("\n(qemu)")].rstrip() + "\n")
PY
    fi
    (
        set +e
        # shellcheck disable=SC2086
        timeout "$timeout_s" "${QEMU:-qemu-system-i386}" -display none -no-reboot $monitor \
            -nodefaults -machine pc -cpu "${QEMU_CPU:-max}" -m 64 \
            -drive format=raw,file="$tmp/$name.img",if=floppy \
            -boot a \
            -chardev file,id=dbg,path="$tmp/$name.e9" \
            -device isa-debugcon,iobase=0xe9,chardev=dbg \
            -chardev file,id=ser,path="$tmp/$name.uart" \
            -serial chardev:ser \
            -device isa-debug-exit,iobase=0xf4,iosize=1 \
            >"$tmp/$name.log" 2>&1
        echo $? >"$tmp/$name.rc"
    ) &
done
wait

status=0
for name in "$@"; do
    name=${name%.asm}
    want=$(sed -n 's/^; x86lab-exit: *\([0-9]*\).*/\1/p' "$name.asm")
    want=${want:-0}
    rc=$(cat "$tmp/$name.rc")
    if [ "$want" -eq 0 ]; then
        ok_rc=124               # still halted when timeout killed QEMU
    else
        ok_rc=$((want * 2 + 1)) # isa-debug-exit
    fi
    if [ "$rc" -ne "$ok_rc" ]; then
        echo "$name: QEMU exited with $rc, expected $ok_rc" >&2
        cat "$tmp/$name.log" >&2
        status=1
        continue
    fi
    if [ -s "$tmp/$name.e9" ] && [ -s "$tmp/$name.uart" ]; then
        echo "$name: writes to both port 0xE9 and the UART" >&2
        status=1
        continue
    fi
    cat "$tmp/$name.e9" "$tmp/$name.uart" >"$tmp/$name.out"
    if [ "$(tail -c 1 "$tmp/$name.out" | od -An -c | tr -d ' ')" != '\n' ]; then
        echo "$name: output does not end with a newline (did it finish?)" >&2
        status=1
        continue
    fi
    if [ -n "${DUMP_STATE:-}" ]; then
        if [ -f "$name.state" ] && cmp -s "$tmp/$name.state" "$name.state"; then
            echo "$name: state unchanged"
        else
            cp "$tmp/$name.state" "$name.state"
            echo "$name: state written"
        fi
    fi
    if [ -f "$name.expected" ] && cmp -s "$tmp/$name.out" "$name.expected"; then
        echo "$name: unchanged"
    else
        cp "$tmp/$name.out" "$name.expected"
        echo "$name: written ($(wc -c < "$name.expected") bytes)"
    fi
done
exit $status
