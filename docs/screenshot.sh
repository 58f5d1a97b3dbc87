#!/usr/bin/env bash
# Remake docs/clients-window.png: the main window on demo data, on a private Xvfb display.
# Needs Debian's xvfb, x11-utils (xwininfo) and imagemagick (import).
set -euo pipefail
cd "$(dirname "$0")/.."
display=:77
data=$(mktemp -d)
Xvfb "$display" -screen 0 1400x900x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $app $xvfb 2>/dev/null; rm -rf "$data"' EXIT
sleep 1
DISPLAY=$display python3 -m avtoprokat_mail --data-dir "$data" --demo &
app=$!
for _ in $(seq 50); do
  window=$(DISPLAY=$display xwininfo -root -children | awk '/"Tk"\)/ {print $1; exit}')
  [ -n "$window" ] && break
  sleep 0.2
done
sleep 2  # let the grid draw
DISPLAY=$display import -window "$window" docs/clients-window.png
echo "docs/clients-window.png written"
