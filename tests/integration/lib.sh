# SPDX-License-Identifier: Apache-2.0
#
# Shared by the integration scripts (sourced): starting the real keyholdd. The caller defines
# $keyholdd (the binary), $work (a fresh directory) and fail().

# start_keyholdd [ARGS...]: keyholdd --dev on a free port of 127.0.0.1, in $work, with the
# extra arguments given; sets $pid and $port once it serves (its log says on which port).
start_keyholdd() {
  : >"$work/err.log"
  (cd "$work" && exec "$keyholdd" --dev "$@" --listen 127.0.0.1:0 \
    >>"$work/out.log" 2>>"$work/err.log") &
  pid=$!
  port=
  for _ in $(seq 1 200); do
    port=$(grep -o '"msg":"keyholdd serving".*"port":[0-9]*' "$work/err.log" 2>/dev/null |
      grep -o '"port":[0-9]*' | cut -d: -f2 || true)
    [[ -n $port ]] && break
    kill -0 "$pid" 2>/dev/null || fail "keyholdd exited during start"
    sleep 0.05
  done
  [[ -n $port ]] || fail "keyholdd did not start"
}
