#!/usr/bin/env bash
# Installs the system packages x86lab's tests need, on Debian or Ubuntu:
#   nasm          assembles the boot-sector programs and the instruction test vectors
#   gcc           builds the C test programs (and their native twins)
#   gcc-multilib  32-bit libgcc, for the ELF32 builds of the C test programs
# Safe to run again: it installs only what is missing.
set -euo pipefail

need=()
command -v nasm >/dev/null 2>&1 || need+=(nasm)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
if ! compgen -G "/usr/lib/gcc/x86_64-linux-gnu/*/32/libgcc.a" >/dev/null; then
    need+=(gcc-multilib)
fi

if [ ${#need[@]} -eq 0 ]; then
    echo "setup: nothing to install"
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
echo "setup: installing ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "setup: done"
