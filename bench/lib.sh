# SPDX-License-Identifier: Apache-2.0
#
# Shared by the server benchmarks (sourced): free ports, keyholdd in development mode with the
# rate limit off, and nginx answering a fixed JSON body over HTTPS with keyholdd's development
# certificate (the same TLS settings class), both in $work. The caller sets $work, $keyholdd and
# a fail() that exits, and kills $kpid and $npid at exit.

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    (echo >/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
  done
  fail "no free port"
}

# start_keyholdd [ARGS...]: sets $kport, $kpid, $token and $ca once it serves; ARGS go to
# keyholdd. Called again after the process ended, it serves the same data directory.
start_keyholdd() {
  kport=$(free_port)
  echo '{"rate_limit_rps": 0}' >"$work/keyholdd.json"
  (cd "$work" && exec "$keyholdd" --dev --config keyholdd.json --listen 127.0.0.1:"$kport" \
    --log-level warn "$@" >"$work/k.out" 2>"$work/k.err") &
  kpid=$!
  for _ in $(seq 1 200); do
    [[ -s $work/var/dev-token ]] && curl -s --cacert "$work/var/tls/ca.pem" \
      "https://127.0.0.1:$kport/v1/sys/health" >/dev/null 2>&1 && break
    sleep 0.05
  done
  [[ -s $work/var/dev-token ]] && kill -0 "$kpid" 2>/dev/null &&
    curl -s --cacert "$work/var/tls/ca.pem" "https://127.0.0.1:$kport/v1/sys/health" >/dev/null 2>&1 ||
    fail "keyholdd did not start: $(cat "$work/k.err")"
  token=$(cat "$work/var/dev-token")
  ca=$work/var/tls/ca.pem
}

# start_nginx BODY: sets $nport and $npid; nginx answers every request with 200 and BODY.
start_nginx() {
  nport=$(free_port)
  mkdir -p "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<CONF
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
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nport ssl;
    ssl_certificate $work/var/tls/server.pem;
    ssl_certificate_key $work/var/tls/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      default_type application/json;
      return 200 '$1';
    }
  }
}
CONF
  nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' &
  npid=$!
}
