#!/usr/bin/env bash
# Installs the Debian packages InteraRec needs when they are missing: Java 17 and Maven (Kafka from
# Maven Central), Chromium (the shopper's browser), Tesseract (the embedded summarizer's OCR), fonts for the
# demo shop's seeded themes, Prometheus and promtool (alert rule tests and the real scrape test), Node.js
# and npm (builds and tests the in-page capture script, capture-js/).
set -euo pipefail

need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v tesseract >/dev/null 2>&1 || need+=(tesseract-ocr)
[ -n "$(ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata 2>/dev/null)" ] || need+=(tesseract-ocr-eng)
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
# the demo shop's seeded themes (services/demo_shop/themes.py FONT_PACKAGES) use these families
for pkg in fonts-open-sans fonts-lato fonts-roboto-unhinted fonts-crosextra-carlito fonts-crosextra-caladea \
           fonts-cantarell fonts-linuxlibertine fonts-freefont-ttf; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)

if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages: installing ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root (or sudo) to install: ${need[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
# Debian's prometheus package enables a system service on :9090; the tests start their own on free ports.
if [[ " ${need[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
