#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# keyholdd over HTTPS against nginx serving a fixed JSON response over HTTPS with the same kind
# of certificate, measured in the same run with wrk on loopback (HTTP.md's method): the ratio is
# what our HTTP layer, authentication, JSON and key operations cost on top of a tuned server
# doing nothing. Rows:
#   health        GET /v1/sys/health, no authentication, no storage
#   get key       GET /v1/keys/{tag}: bearer token, a read and an audit write (group commit)
#   encrypt       POST /v1/keys/{tag}/encrypt of 1 KiB: token, key cache, AES-GCM, audit write
#
# Usage: bench_server.sh KEYHOLDD [SECONDS] (default 10 s per run, 64 connections, 2 threads).
set -euo pipefail

keyholdd=$1
seconds=${2:-10}
conns=64
work=$(mktemp -d "${TMPDIR:-/tmp}/keyhold-bench-XXXXXX")
kpid= npid=
cleanup() {
  [[ -n $kpid ]] && kill "$kpid" 2>/dev/null && wait "$kpid" 2>/dev/null
  [[ -n $npid ]] && kill "$npid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    (echo >/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
  done
  echo "no free port" >&2
  exit 1
}

# keyholdd in development mode (its CA and certificate are reused for nginx).
kport=$(free_port)
(cd "$work" && exec "$keyholdd" --dev --listen 127.0.0.1:$kport --log-level warn \
  >"$work/k.out" 2>"$work/k.err") &
kpid=$!
for _ in $(seq 1 200); do
  [[ -s $work/var/dev-token ]] && curl -s --cacert "$work/var/tls/ca.pem" \
    "https://127.0.0.1:$kport/v1/sys/health" >/dev/null 2>&1 && break
  sleep 0.05
done
token=$(cat "$work/var/dev-token")
ca=$work/var/tls/ca.pem
auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')
tag=$(curl -s --cacert "$ca" "${auth[@]}" -d '{"name":"bench"}' \
  "https://127.0.0.1:$kport/v1/keys" | jq -r .tag)

# nginx: fixed JSON body, same TLS settings class (TLS 1.2/1.3, P-256 certificate).
nport=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$nport ssl;
    ssl_certificate $work/var/tls/server.pem;
    ssl_certificate_key $work/var/tls/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      default_type application/json;
      return 200 '{"initialized":true,"sealed":false,"standby":false,"version":"0.1.0","node_id":"node-1","cluster_size":1}';
    }
  }
}
EOF
nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' &
npid=$!
sleep 0.5

plain=$(head -c 1024 /dev/urandom | base64 -w0)
cat >"$work/encrypt.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"plaintext":"$plain"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
EOF
cat >"$work/get.lua" <<EOF
wrk.headers["Authorization"] = "Bearer $token"
EOF

# rate URL [SCRIPT] -> "requests/s p50_ms p99_ms non2xx"
rate() {
  local out
  out=$(wrk -t2 -c$conns -d${seconds}s --latency ${2:+-s "$2"} "$1" 2>&1)
  local rps p50 p99 errs
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "${rps:-0} ${p50:-?} ${p99:-?} ${errs:-0}"
}

read -r ref _ _ _ <<<"$(rate "https://127.0.0.1:$nport/")"
printf 'keyholdd vs nginx (fixed JSON over HTTPS), wrk -t2 -c%d -d%ss, loopback, %s\n' \
  "$conns" "$seconds" "$(nproc) CPUs"
printf '%-12s %12s %12s %8s %10s %10s %8s\n' operation "keyhold r/s" "nginx r/s" ratio p50 p99 non-2xx
for row in "health|https://127.0.0.1:$kport/v1/sys/health|" \
  "get key|https://127.0.0.1:$kport/v1/keys/$tag|$work/get.lua" \
  "encrypt|https://127.0.0.1:$kport/v1/keys/$tag/encrypt|$work/encrypt.lua"; do
  IFS='|' read -r name url script <<<"$row"
  read -r rps p50 p99 errs <<<"$(rate "$url" "$script")"
  ratio=$(awk -v a="$rps" -v b="$ref" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
  printf '%-12s %12.0f %12.0f %8s %10s %10s %8s\n' "$name" "$rps" "$ref" "$ratio" "$p50" "$p99" "$errs"
done
