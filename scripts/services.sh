#!/usr/bin/env bash
# Makes sure the local services the tests talk to are running, starting any
# that are down. Each test creates (and drops) its own database, so a shared
# server is safe.
#
# PostgreSQL: the tests connect to postgres://postgres@127.0.0.1:5432 with no
# password (see internal/testenv), unless UNHIDRA_TEST_POSTGRES names another
# server, which is then left alone. When that connection does not work yet,
# this script sets up the local Debian cluster: it installs the package if
# missing, creates and starts the cluster, makes it listen on 127.0.0.1:5432,
# and trusts user postgres on 127.0.0.1 in pg_hba.conf. That last step lets
# anyone with a shell on this machine act as the database superuser: it is
# for development and CI machines, not for a server holding real data.
# Running it again changes nothing.
#
# NATS: the tests of the NATS bus connect to nats://127.0.0.1:4222, unless
# UNHIDRA_TEST_NATS names another server, which is then left alone. When
# nothing answers on the port, this script installs nats-server if missing
# and starts it in the background (JetStream store in /var/lib/nats-server,
# log in /var/log/nats-server.log).
set -euo pipefail

PG_PORT=5432
NATS_PORT=4222
PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
HBA_MARK="# unhidra scripts/services.sh: the tests connect as postgres over 127.0.0.1 without a password"

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # port name
  for _ in $(seq 1 60); do up "$1" && return 0; sleep 0.5; done
  echo "services: $2 did not come up on 127.0.0.1:$1" >&2
  return 1
}

. "$(dirname "$0")/lib.sh"

# accepts: the tests' own connection works (psql reads no password: -w).
accepts() {
  PGCONNECT_TIMEOUT=5 psql "$PG_URL" -w -Atqc 'select 1' >/dev/null 2>&1
}

# cluster_on_port prints "VERSION NAME" of the cluster configured for
# $PG_PORT, else of the newest cluster, else nothing.
cluster_on_port() {
  pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '
    $3 == p { print $1, $2; found = 1; exit }
    { last = $1 " " $2 }
    END { if (!found && last != "") print last }'
}

postgres() {
  if [ -n "${UNHIDRA_TEST_POSTGRES:-}" ]; then
    echo "services: tests use UNHIDRA_TEST_POSTGRES; the local PostgreSQL is left alone"
    return 0
  fi
  if up "$PG_PORT" && ! command -v psql >/dev/null 2>&1; then
    echo "services: PostgreSQL answers on 127.0.0.1:$PG_PORT (no psql here to check that it trusts user postgres)"
    return 0
  fi
  if up "$PG_PORT" && accepts; then
    return 0
  fi

  if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    echo "services: installing PostgreSQL"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local cluster ver name
  cluster=$(cluster_on_port)
  if [ -z "$cluster" ]; then
    ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
    [ -n "$ver" ] || ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    echo "services: creating PostgreSQL cluster $ver/main"
    as_root pg_createcluster "$ver" main --port "$PG_PORT" >/dev/null
    cluster="$ver main"
  fi
  read -r ver name <<<"$cluster"
  local conf="/etc/postgresql/$ver/$name" restart=0

  # Listen on 127.0.0.1:$PG_PORT.
  local port listen
  port=$(pg_conftool -s "$ver" "$name" show port 2>/dev/null || echo 5432)
  if [ "$port" != "$PG_PORT" ]; then
    if up "$PG_PORT"; then
      echo "services: something other than cluster $ver/$name listens on 127.0.0.1:$PG_PORT and refuses the tests' connection;" >&2
      echo "services: let user postgres in without a password from 127.0.0.1, or point UNHIDRA_TEST_POSTGRES at a server" >&2
      return 1
    fi
    echo "services: cluster $ver/$name: port $port -> $PG_PORT"
    as_root pg_conftool "$ver" "$name" set port "$PG_PORT"
    restart=1
  fi
  listen=$(pg_conftool -s "$ver" "$name" show listen_addresses 2>/dev/null || echo localhost)
  case ",${listen// /}," in
  *,localhost,* | *,127.0.0.1,* | *,\*,* | *,0.0.0.0,*) ;;
  *)
    local want=localhost
    [ -z "${listen// /}" ] || want="${listen// /},localhost"
    echo "services: cluster $ver/$name: listen_addresses '$listen' -> '$want'"
    as_root pg_conftool "$ver" "$name" set listen_addresses "$want"
    restart=1
    ;;
  esac

  local status
  status=$(pg_lsclusters -h | awk -v v="$ver" -v n="$name" '$1 == v && $2 == n { print $4 }')
  if [ "$status" != online ]; then
    echo "services: starting PostgreSQL $ver/$name"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start
  elif [ "$restart" -eq 1 ]; then
    echo "services: restarting PostgreSQL $ver/$name"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" restart
  fi
  wait_for "$PG_PORT" PostgreSQL
  accepts && return 0

  # pg_hba.conf is first match: the trust line goes before every other.
  if ! as_root grep -qxF "$HBA_MARK" "$conf/pg_hba.conf"; then
    echo "services: cluster $ver/$name: trusting user postgres on 127.0.0.1 in $conf/pg_hba.conf"
    local tmp
    tmp=$(mktemp)
    {
      echo "$HBA_MARK"
      echo "host    all    postgres    127.0.0.1/32    trust"
      echo
      as_root cat "$conf/pg_hba.conf"
    } >"$tmp"
    as_root install -m 0640 -o postgres -g postgres "$tmp" "$conf/pg_hba.conf"
    rm -f "$tmp"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload
  fi
  for _ in $(seq 1 20); do accepts && return 0; sleep 0.5; done
  echo "services: PostgreSQL on 127.0.0.1:$PG_PORT still refuses $PG_URL; see $conf/pg_hba.conf" >&2
  return 1
}

nats() {
  if [ -n "${UNHIDRA_TEST_NATS:-}" ]; then
    echo "services: tests use UNHIDRA_TEST_NATS; the local NATS is left alone"
    return 0
  fi
  up "$NATS_PORT" && return 0
  if [ ! -x /usr/sbin/nats-server ]; then
    echo "services: installing nats-server"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  fi
  echo "services: starting nats-server on 127.0.0.1:$NATS_PORT"
  as_root mkdir -p /var/lib/nats-server
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p "$NATS_PORT" -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_for "$NATS_PORT" NATS
}

postgres
nats

# Redis (bus/redisbus): the tests connect to redis://127.0.0.1:6379/0 unless
# UNHIDRA_TEST_REDIS names another server, which is then left alone. When
# nothing answers on the port, this starts a throwaway server there that
# keeps nothing on disk (no RDB, no AOF), installing redis-server first if
# missing. Each test uses keys under a prefix of its own and deletes them.
REDIS_PORT=6379

redis() {
  if [ -n "${UNHIDRA_TEST_REDIS:-}" ]; then
    echo "services: tests use UNHIDRA_TEST_REDIS; the local Redis is left alone"
    return 0
  fi
  up "$REDIS_PORT" && return 0
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "services: installing Redis"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    up "$REDIS_PORT" && return 0 # the package may have started its own
  fi
  as_root mkdir -p /var/lib/redis /var/log/redis
  echo "services: starting Redis on 127.0.0.1:$REDIS_PORT"
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for "$REDIS_PORT" Redis
}

redis
