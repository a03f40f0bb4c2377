# SPDX-License-Identifier: Apache-2.0
#
# Shared by the integration scripts (sourced): a scratch directory cleaned up at exit, fail(),
# and starting the real keyholdd. The caller defines $keyholdd (the binary).

# init_work NAME: $work, a fresh directory. At exit the server ($pid) and every process listed
# in $pids are killed and $work is removed.
pid=
pids=()
init_work() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/keyhold-$1-XXXXXX")
  trap cleanup_work EXIT
}
cleanup_work() {
  local p
  for p in "$pid" "${pids[@]}"; do
    if [[ -n $p ]]; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  rm -rf "$work"
}

# fail MESSAGE: says what failed, with the last command's stderr (when a script keeps it in
# $work/err) and the server log's tail, and exits 1.
fail() {
  echo "FAIL: $*" >&2
  if [[ -s $work/err ]]; then
    echo "--- last command's stderr" >&2
    cat "$work/err" >&2
  fi
  if [[ -s $work/err.log ]]; then
    echo "--- server log (tail)" >&2
    tail -n 20 "$work/err.log" >&2
  fi
  exit 1
}

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
