#!/usr/bin/env bash
# Takes docs/screenshot.png, the README's picture of the app mid-lesson, under a virtual
# display (Xvfb): lesson 02 loaded, run at 10 instructions per second for a few seconds,
# then paused, so that registers, flags and console are all in use.
#
# Needs (Debian): xvfb xdotool imagemagick libgl1-mesa-dri libglx-mesa0 libxkbcommon-x11-0
#   apt-get install -y xvfb xdotool imagemagick libgl1-mesa-dri libglx-mesa0 libxkbcommon-x11-0
# Usage: scripts/screenshot.sh [path/to/x86lab]   (default: builds the release binary)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
if [ -z "$bin" ]; then
    cargo build --release
    bin=target/release/x86lab
fi
display=:97
Xvfb $display -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
sleep 1
DISPLAY=$display "$bin" gui firmware/lessons/02-registers-flags.asm >/dev/null 2>&1 &
app=$!
sleep 4
win=$(DISPLAY=$display xdotool search --name x86lab | head -1)
DISPLAY=$display xdotool windowfocus "$win"
# Step through the first instructions (F7), then run a few seconds at 10 instr/s (F5).
for _ in $(seq 12); do
    DISPLAY=$display xdotool key F7
    sleep 0.2
done
DISPLAY=$display xdotool key F5
sleep 4
DISPLAY=$display xdotool key F5
sleep 1
DISPLAY=$display xdotool key F7
sleep 1
DISPLAY=$display import -window root docs/screenshot.png
echo "wrote docs/screenshot.png"
