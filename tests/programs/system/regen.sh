#!/bin/sh
# Regenerate the NAME.expected files of the system test programs by running
# them under QEMU (qemu-system-x86_64, TCG, SeaBIOS), not under x86lab.
# The programs are booted exactly like the real-mode boot-sector programs
# (see ../boot/regen.sh, which does the work, and ../boot/README.md).
# NAME.state is QEMU's "info registers" after the program halted: the final
# state tests/boot_programs.rs compares with `x86lab run --state-out`.
#
# Usage: tests/programs/system/regen.sh [NAME...]   (default: every *.asm here)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PROGRAM_DIR=$here QEMU=${QEMU:-qemu-system-x86_64} DUMP_STATE=1 exec "$here/../boot/regen.sh" "$@"
