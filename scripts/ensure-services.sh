#!/usr/bin/env bash
# The servers the scale-out backends and their tests need: PostgreSQL,
# MariaDB and RabbitMQ from Debian's packages, started in the background on
# 127.0.0.1 (no systemd needed), each with a `menagerie` user (password
# `menagerie`, for tests only) and a `menagerie` database / vhost permissions.
# Idempotent: when a server answers it only prints one line.
#
# A server of your own is used instead when its URL is given; nothing is
# installed or started for it, it is only checked:
#   MENAGERIE_TEST_PG_URL     default postgres://menagerie:menagerie@127.0.0.1:5432/menagerie
#   MENAGERIE_TEST_MYSQL_URL  default mysql://menagerie:menagerie@127.0.0.1:3306/menagerie
#   MENAGERIE_TEST_AMQP_URL   default amqp://menagerie:menagerie@127.0.0.1:5672
# The test users must be able to create and drop databases whose names start
# with `menagerie` (the contract tests make one per suite).
#
# Data stays in the packages' default places (/var/lib/postgresql,
# /var/lib/mysql, /var/lib/rabbitmq); logs of the daemons started here go to
# /var/log/menagerie/ (PostgreSQL keeps its cluster log in /var/log/postgresql/).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_DEFAULT_URL=postgres://menagerie:menagerie@127.0.0.1:5432/menagerie
MYSQL_DEFAULT_URL=mysql://menagerie:menagerie@127.0.0.1:3306/menagerie
AMQP_DEFAULT_URL=amqp://menagerie:menagerie@127.0.0.1:5672
MYSQL_SOCKET=/run/mysqld/mysqld.sock
MYSQL_LOG="$MENAGERIE_LOG_DIR/mariadb.log"
RABBIT_LOG="$MENAGERIE_LOG_DIR/rabbitmq.log"
# A fixed node name: the host name need not resolve.
export RABBITMQ_NODENAME=rabbit@localhost

# tcp_answers host port -> 0 when something accepts a TCP connection there.
tcp_answers() { timeout 3 bash -c ">/dev/tcp/$1/$2" 2>/dev/null; }

# url_host_port url -> "host port" (default port given as $2).
url_host_port() {
  local rest="${1#*://}"
  rest="${rest#*@}"
  rest="${rest%%/*}"
  rest="${rest%%\?*}"
  if [[ "$rest" == *:* ]]; then printf '%s %s\n' "${rest%%:*}" "${rest##*:}"; else printf '%s %s\n' "$rest" "$2"; fi
}

# check_given name url default_port: a user's own server must answer.
check_given() {
  local hp
  read -r -a hp <<<"$(url_host_port "$2" "$3")"
  tcp_answers "${hp[0]}" "${hp[1]}" || die "$1 at ${hp[0]}:${hp[1]} (from the given URL) does not answer; start it or unset the variable to use a local one"
  log "$1: using the given server at ${hp[0]}:${hp[1]}"
}

# --- PostgreSQL -------------------------------------------------------------

pg_cluster() {
  # "version name" of the newest cluster, empty when none.
  pg_lsclusters -h 2>/dev/null | sort -k1,1n | tail -n1 | awk '{print $1, $2}'
}

pg_answers() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

pg_psql() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -p 5432 "$@"; }

ensure_postgres() {
  if [ -n "${MENAGERIE_TEST_PG_URL:-}" ] && [ "$MENAGERIE_TEST_PG_URL" != "$PG_DEFAULT_URL" ]; then
    check_given postgresql "$MENAGERIE_TEST_PG_URL" 5432
    return 0
  fi
  if ! pg_answers || ! pg_user_ready; then
    need_root postgresql
    apt_install postgresql postgresql-client
    local cluster
    cluster="$(pg_cluster)"
    if [ -z "$cluster" ]; then
      local version
      version="$(find /usr/lib/postgresql -maxdepth 1 -mindepth 1 -printf '%f\n' | sort -n | tail -n1)"
      [ -n "$version" ] || die "no PostgreSQL server found under /usr/lib/postgresql after installing postgresql"
      step "creating PostgreSQL cluster $version/main…"
      pg_createcluster "$version" main >>"$MENAGERIE_LOG_DIR/postgresql-setup.log" 2>&1 ||
        die "pg_createcluster failed (log: $MENAGERIE_LOG_DIR/postgresql-setup.log)"
      cluster="$(pg_cluster)"
    fi
    read -r -a c <<<"$cluster"
    if ! pg_answers; then
      # Only a cluster started here is configured here: loopback only (the
      # default `localhost` would also bind ::1), the port the tests expect.
      local confd="/etc/postgresql/${c[0]}/${c[1]}/conf.d"
      mkdir -p "$confd"
      printf "# Written by menagerie scripts/ensure-services.sh\nlisten_addresses = '127.0.0.1'\nport = 5432\n" >"$confd/menagerie.conf"
      step "starting PostgreSQL ${c[0]}/${c[1]} on 127.0.0.1:5432 (log /var/log/postgresql/postgresql-${c[0]}-${c[1]}.log)…"
      mkdir -p "$MENAGERIE_LOG_DIR"
      pg_ctlcluster "${c[0]}" "${c[1]}" start >>"$MENAGERIE_LOG_DIR/postgresql-setup.log" 2>&1 || true
      if ! wait_for 30 pg_answers; then
        tail -n 20 "/var/log/postgresql/postgresql-${c[0]}-${c[1]}.log" >&2 || true
        die "PostgreSQL did not answer on 127.0.0.1:5432 within 30 s"
      fi
    fi
    step "creating PostgreSQL user and database menagerie…"
    pg_psql -d postgres <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'menagerie') THEN
    CREATE ROLE menagerie LOGIN CREATEDB PASSWORD 'menagerie';
  ELSE
    ALTER ROLE menagerie LOGIN CREATEDB PASSWORD 'menagerie';
  END IF;
END $$;
SQL
    if [ "$(pg_psql -d postgres -tAc "select 1 from pg_database where datname = 'menagerie'")" != 1 ]; then
      pg_psql -d postgres -c 'CREATE DATABASE menagerie OWNER menagerie'
    fi
  fi
  log "postgresql: answers at $PG_DEFAULT_URL"
}

pg_user_ready() {
  PGPASSWORD=menagerie psql -X -q -h 127.0.0.1 -p 5432 -U menagerie -d menagerie -tAc 'select 1' >/dev/null 2>&1
}

# --- MariaDB ----------------------------------------------------------------

mysql_answers() { mariadb-admin --socket="$MYSQL_SOCKET" -uroot ping >/dev/null 2>&1; }

mysql_user_ready() {
  mariadb -h 127.0.0.1 -P 3306 -umenagerie -pmenagerie menagerie -e 'select 1' >/dev/null 2>&1
}

ensure_mysql() {
  if [ -n "${MENAGERIE_TEST_MYSQL_URL:-}" ] && [ "$MENAGERIE_TEST_MYSQL_URL" != "$MYSQL_DEFAULT_URL" ]; then
    check_given mariadb "$MENAGERIE_TEST_MYSQL_URL" 3306
    return 0
  fi
  if mysql_user_ready; then
    log "mariadb: answers at $MYSQL_DEFAULT_URL"
    return 0
  fi
  need_root mariadb-server
  apt_install mariadb-server mariadb-client
  if ! mysql_answers; then
    if [ ! -d /var/lib/mysql/mysql ]; then
      step "initialising the MariaDB data directory /var/lib/mysql…"
      mariadb-install-db --user=mysql --datadir=/var/lib/mysql >>"$MYSQL_LOG" 2>&1 ||
        die "mariadb-install-db failed (log: $MYSQL_LOG)"
    fi
    mkdir -p /run/mysqld "$MENAGERIE_LOG_DIR"
    # mariadbd writes its log as the mysql user
    touch "$MYSQL_LOG"
    chown mysql: /run/mysqld "$MYSQL_LOG"
    step "starting MariaDB on 127.0.0.1:3306 (data /var/lib/mysql, log $MYSQL_LOG)…"
    setsid nohup mysqld_safe --user=mysql --skip-syslog --bind-address=127.0.0.1 --port=3306 \
      --socket="$MYSQL_SOCKET" --log-error="$MYSQL_LOG" >>"$MENAGERIE_LOG_DIR/mariadb-safe.log" 2>&1 </dev/null &
    if ! wait_for 60 mysql_answers; then
      tail -n 20 "$MYSQL_LOG" >&2 || true
      die "MariaDB did not answer within 60 s (log: $MYSQL_LOG)"
    fi
  fi
  step "creating MariaDB user and database menagerie…"
  mariadb --socket="$MYSQL_SOCKET" -uroot <<'SQL' || die "could not create the MariaDB user menagerie"
CREATE DATABASE IF NOT EXISTS menagerie;
CREATE USER IF NOT EXISTS 'menagerie'@'127.0.0.1' IDENTIFIED BY 'menagerie';
CREATE USER IF NOT EXISTS 'menagerie'@'localhost' IDENTIFIED BY 'menagerie';
GRANT ALL PRIVILEGES ON `menagerie%`.* TO 'menagerie'@'127.0.0.1';
GRANT ALL PRIVILEGES ON `menagerie%`.* TO 'menagerie'@'localhost';
FLUSH PRIVILEGES;
SQL
  mysql_user_ready || die "the MariaDB user menagerie cannot log in on 127.0.0.1:3306"
  log "mariadb: answers at $MYSQL_DEFAULT_URL"
}

# --- RabbitMQ ---------------------------------------------------------------

rabbit_ctl() { timeout 60 rabbitmqctl "$@"; }

rabbit_answers() { tcp_answers 127.0.0.1 5672 && rabbit_ctl -q status >/dev/null 2>&1; }

rabbit_user_ready() { rabbit_ctl -q list_users 2>/dev/null | grep -q '^menagerie[[:space:]]'; }

ensure_rabbitmq() {
  if [ -n "${MENAGERIE_TEST_AMQP_URL:-}" ] && [ "$MENAGERIE_TEST_AMQP_URL" != "$AMQP_DEFAULT_URL" ]; then
    check_given rabbitmq "$MENAGERIE_TEST_AMQP_URL" 5672
    return 0
  fi
  # rabbitmqctl needs root (the broker's Erlang cookie); without it an answering port has to do.
  if tcp_answers 127.0.0.1 5672 && { [ "$(id -u)" -ne 0 ] || rabbit_user_ready; }; then
    log "rabbitmq: answers at $AMQP_DEFAULT_URL"
    return 0
  fi
  need_root rabbitmq-server
  apt_install rabbitmq-server
  if ! tcp_answers 127.0.0.1 5672; then
    mkdir -p "$MENAGERIE_LOG_DIR"
    step "starting RabbitMQ on 127.0.0.1:5672 (data /var/lib/rabbitmq, log $RABBIT_LOG)…"
    # Loopback only: AMQP, epmd and Erlang distribution.
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672 ERL_EPMD_ADDRESS=127.0.0.1 \
      RABBITMQ_DIST_PORT=25672 RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}' \
      setsid nohup rabbitmq-server >>"$RABBIT_LOG" 2>&1 </dev/null &
  fi
  # Erlang and the Mnesia boot can take a while on a small machine.
  # await_startup fails at once while the node is not reachable yet, hence the loop.
  if ! wait_for 120 rabbit_ctl -q await_startup --timeout 10 || ! wait_for 30 tcp_answers 127.0.0.1 5672; then
    tail -n 30 "$RABBIT_LOG" >&2 || true
    die "RabbitMQ did not start within 150 s (log: $RABBIT_LOG)"
  fi
  if ! rabbit_user_ready; then
    step "creating RabbitMQ user menagerie…"
    rabbit_ctl -q add_user menagerie menagerie >/dev/null || die "rabbitmqctl add_user menagerie failed"
  fi
  rabbit_ctl -q set_permissions -p / menagerie '.*' '.*' '.*' >/dev/null ||
    die "rabbitmqctl set_permissions for menagerie failed"
  log "rabbitmq: answers at $AMQP_DEFAULT_URL"
}

main() {
  ensure_postgres
  ensure_mysql
  ensure_rabbitmq
}

main "$@"
