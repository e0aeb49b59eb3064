#!/usr/bin/env bash
# Start the local services the test suite uses when they are not already running:
# PostgreSQL (the suite creates its own databases in it) and MariaDB.
# Redis needs nothing here: the suite starts its own redis-server on a free port.
set -uo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

if ! pg_isready -q -h 127.0.0.1 2>/dev/null; then
  echo "==> starting PostgreSQL"
  for v in $(ls /etc/postgresql 2>/dev/null); do
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null \
      || $SUDO pg_ctlcluster "$v" main start || true
  done
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 0.5; done
fi
# A role of the suite's own (works whatever pg_hba's method for 127.0.0.1 is).
$SUDO runuser -u postgres -- psql -qtAc \
  "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='scripthammer_test') THEN
     CREATE ROLE scripthammer_test LOGIN CREATEDB PASSWORD 'scripthammer_test'; END IF; END\$\$;" >/dev/null 2>&1 || true

if ! mariadb-admin ping --silent 2>/dev/null && command -v mariadbd >/dev/null; then
  echo "==> starting MariaDB"
  $SUDO mkdir -p /run/mysqld && $SUDO chown mysql:mysql /run/mysqld 2>/dev/null || true
  $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql || true
  for _ in $(seq 1 30); do mariadb-admin ping --silent 2>/dev/null && break; sleep 0.5; done
fi
# A MariaDB account of the suite's own, for the companion-on-MariaDB tests (databases shm_test_*).
$SUDO mariadb -uroot -e "CREATE USER IF NOT EXISTS 'scripthammer_test'@'127.0.0.1' IDENTIFIED BY 'scripthammer_test';
  GRANT ALL PRIVILEGES ON \`shm\\_test\\_%\`.* TO 'scripthammer_test'@'127.0.0.1';" 2>/dev/null || true
exit 0
