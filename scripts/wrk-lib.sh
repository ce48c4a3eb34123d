# Sourced by the HTTP benchmark scripts: wrk (installed from Debian when
# missing) and `rps ARGS…`, the requests per second of one wrk run of
# $SECS seconds, 2 threads, 64 connections.
if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq wrk >/dev/null; else sudo apt-get install -y -qq wrk >/dev/null; fi
fi
# Refuses a run in which any answer was not 2xx/3xx (a benchmark of errors
# measures the wrong path).
rps() {
  local out
  out=$(wrk -t2 -c64 -d"${SECS}s" "$@")
  if grep -q 'Non-2xx' <<<"$out"; then
    echo "wrk $*: $(grep 'Non-2xx' <<<"$out" | xargs)" >&2
    return 1
  fi
  awk '/Requests\/sec/{print $2}' <<<"$out"
}
