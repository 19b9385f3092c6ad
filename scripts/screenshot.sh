#!/usr/bin/env bash
# Takes the pictures of the desktop app that the README and the book show, under a virtual
# display (Xvfb), by driving the app with the keyboard and the mouse (xdotool):
#   book/src/img/gui-licao-02.png   lesson 02 stepped, then run at 10 instructions per second
#                                   and paused: registers, flags and console in use (README,
#                                   book introduction)
#   book/src/img/gui-paginacao.png  lesson 09 run to its end in long mode, the memory panel at
#                                   100000h and the System panel's 4-level page walk of it
#                                   (chapter 12): the window enlarged to 1920x1080, as on a
#                                   full-HD screen, and cropped to the taller lower panels
#   book/src/img/gui-lockstep.png   lesson 12 run in lockstep with KVM to a breakpoint just
#                                   after its first MUL, whose undefined flags the two sides
#                                   may set differently (chapter 8), cropped to the
#                                   disassembly, the comparison and the registers
# The app opens a 1400x900 window. The clicks are at the positions of egui's widgets there; after a change
# of the toolbar or the panels, look at the pictures and adjust the coordinates below.
#
# Needs (Debian): xvfb xdotool imagemagick libgl1-mesa-dri libglx-mesa0 libxkbcommon-x11-0
#   apt-get install -y xvfb xdotool imagemagick libgl1-mesa-dri libglx-mesa0 libxkbcommon-x11-0
# The lockstep picture needs /dev/kvm.
# Usage: scripts/screenshot.sh [path/to/x86lab]   (default: builds the release binary)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
if [ -z "$bin" ]; then
    cargo build --release
    bin=target/release/x86lab
fi
img=book/src/img
export DISPLAY=:97
Xvfb $DISPLAY -screen 0 1920x1080x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
app=
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
sleep 1

# Widgets, in screen pixels.
full_speed="737 37"      # the toolbar's "full" speed checkbox
lockstep="995 109"       # "lockstep with KVM", top of the Compare panel
breakpoint="699 114"     # the disassembly's "Breakpoint at" field
toggle="813 114"         # and its Toggle button

open() {
    "$bin" gui "$1" >/dev/null 2>&1 &
    app=$!
    sleep 4
    xdotool windowfocus "$(xdotool search --name x86lab | head -1)"
}
click() {
    xdotool mousemove $1 $2 click 1
    sleep 0.5
}
drag() { # x0 y0 x1 y1
    xdotool mousemove "$1" "$2" mousedown 1
    sleep 0.3
    for i in 1 2 3 4 5 6 7 8; do
        xdotool mousemove $(( $1 + ($3 - $1) * i / 8 )) $(( $2 + ($4 - $2) * i / 8 ))
        sleep 0.15
    done
    xdotool mouseup 1
    sleep 0.5
}
close() {
    kill "$app" 2>/dev/null || true
    wait "$app" 2>/dev/null || true
    app=
}

# 1. Lesson 02: twelve steps (F7), a few seconds at 10 instructions per second (F5), pause,
#    one more step.
open firmware/lessons/02-registers-flags.asm
for _ in $(seq 12); do
    xdotool key F7
    sleep 0.2
done
xdotool key F5
sleep 4
xdotool key F5
sleep 1
xdotool key F7
sleep 1
import -window root -crop 1400x900+0+0 +repage $img/gui-licao-02.png
close
echo "wrote $img/gui-licao-02.png"

# 2. Lesson 09 at full speed to its HLT; the memory panel at 100000h; the System panel
#    wide enough for its default size in a 1920x1080 window; the lower panels taller.
open firmware/lessons/09-long-mode.asm
xdotool windowsize "$(xdotool search --name x86lab | head -1)" 1920 1080
sleep 1
click $full_speed
xdotool key F5
sleep 3
click 117 838
xdotool key ctrl+a
xdotool type 100000
xdotool key Return
sleep 0.5
drag 700 799 700 480
sleep 0.5
import -window root -crop 1500x600+0+480 +repage $img/gui-paginacao.png
close
echo "wrote $img/gui-paginacao.png"

# 3. Lesson 12 in lockstep with KVM at full speed, to a breakpoint on the RET after the
#    first MUL BL (t_mul's last instruction).
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    open firmware/lessons/12-undefined-flags.asm
    listing=$(mktemp)
    "$bin" asm firmware/lessons/12-undefined-flags.asm -o /dev/null --listing "$listing"
    ret=$(awk '$3 == "F6E3" { getline; print $2; exit }' "$listing")   # after MUL BL
    rm -f "$listing"
    click $lockstep
    click $breakpoint
    xdotool type "$ret"
    click $toggle
    click $full_speed
    xdotool key F5
    sleep 15
    import -window root -crop 880x560+520+70 +repage $img/gui-lockstep.png
    close
    echo "wrote $img/gui-lockstep.png"
else
    echo "skipped $img/gui-lockstep.png: /dev/kvm cannot be opened here"
fi
