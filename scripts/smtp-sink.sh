#!/usr/bin/env bash
# A real SMTP server on localhost for notification-svc (issue 16): Python's
# aiosmtpd, pinned with what it imports (ops/smtp-sink/requirements.txt),
# storing each accepted mail as a file (ops/smtp-sink/sink.py).
#
#   scripts/smtp-sink.sh install   the venv in .data/smtp-sink/venv (idempotent;
#                                  the tests start their own sinks from it)
#   scripts/smtp-sink.sh up        install, then serve on 127.0.0.1:${ERP_SMTP_PORT:-2525}
#                                  into ${ERP_MAIL_DIR:-.data/mail} unless the port answers
#   scripts/smtp-sink.sh down      stop what `up` started
set -euo pipefail
cd "$(dirname "$0")/.."

home=.data/smtp-sink
venv=$home/venv
requirements=ops/smtp-sink/requirements.txt
port=${ERP_SMTP_PORT:-2525}
mail_dir=${ERP_MAIL_DIR:-.data/mail}

install() {
  if ! cmp -s "$requirements" "$venv/.requirements" 2>/dev/null; then
    echo "smtp-sink: installing the pinned set into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/.requirements"
  fi
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

up() {
  install
  if answers; then
    echo "smtp-sink: something already answers on 127.0.0.1:$port"
    return 0
  fi
  mkdir -p "$mail_dir"
  nohup "$venv/bin/python" ops/smtp-sink/sink.py --port "$port" --dir "$mail_dir" \
    >"$home/sink.log" 2>&1 &
  echo $! >"$home/sink.pid"
  for _ in $(seq 1 100); do
    if answers; then
      echo "smtp-sink: listening on 127.0.0.1:$port, mails in $mail_dir"
      return 0
    fi
    sleep 0.1
  done
  echo "smtp-sink: not listening after 10 s; see $home/sink.log" >&2
  return 1
}

down() {
  if [ -f "$home/sink.pid" ] && kill "$(cat "$home/sink.pid")" 2>/dev/null; then
    echo "smtp-sink: stopped"
  fi
  rm -f "$home/sink.pid"
}

mkdir -p "$home"
case "${1:-up}" in
  install) install ;;
  up) up ;;
  down) down ;;
  *) echo "usage: $0 install|up|down" >&2; exit 2 ;;
esac
