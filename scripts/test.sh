#!/usr/bin/env bash
# `npm test`: installs what the tests need from Debian's packages when it is
# missing (chromium, ffmpeg, postgresql, nginx and its njs module, redis, coturn, an emoji font), then runs the whole suite: lint, type check, unit, integration and
# browser tests (one node:test run, so its closing summary counts them all).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
# The store's tests start a throwaway PostgreSQL server (test/helpers/postgres.ts).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
# The edge's tests run Debian's nginx (src/edge/nginx-process.ts).
[ -x /usr/sbin/nginx ] || need+=(nginx)
# The edge's gate is njs (src/edge/njs/).
[ -e /usr/lib/nginx/modules/ngx_http_js_module.so ] || need+=(libnginx-mod-http-js)
# Shared rate limits: the guard's tests start a throwaway Redis (test/helpers/redis.ts).
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# deploy/coturn's test runs Debian's turnserver on the shipped configuration.
command -v turnserver >/dev/null 2>&1 || need+=(coturn)
# Reactions are emoji; without a colour emoji font the screenshots show empty boxes.
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need+=(fonts-noto-color-emoji)
if ((${#need[@]})); then
  echo "installing Debian packages: ${need[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The nginx package may start the system's nginx on port 80; the tests run their own.
  if [[ " ${need[*]} " == *" nginx "* || " ${need[*]} " == *" libnginx-mod-http-js "* ]]; then $sudo service nginx stop >/dev/null 2>&1 || true; fi
  if [[ " ${need[*]} " == *" redis-server "* ]]; then $sudo service redis-server stop >/dev/null 2>&1 || true; fi
  if [[ " ${need[*]} " == *" coturn "* ]]; then $sudo service coturn stop >/dev/null 2>&1 || true; fi
fi

echo "== lint"; npx eslint .
echo "== typecheck"; npx tsc --noEmit -p .
echo "== build web client"; node scripts/build-web.js
echo "== tests"
node --import tsx --test --test-concurrency=1 --test-timeout=180000 \
  test/unit/*.test.ts test/integration/*.test.ts test/fuzz/*.test.ts test/browser/*.test.ts
