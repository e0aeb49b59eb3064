#!/usr/bin/env bash
# A local WordPress with the ScriptHammer plugin, next to the companion, with the demo track published.
#
#   scripts/wordpress.sh            set up (once) and start WordPress + the companion; Ctrl-C stops both
#   scripts/wordpress.sh --no-companion   only WordPress (the companion runs elsewhere with the same secret)
#
# WordPress: Debian's `wordpress` package copied to var/wordpress/site, MariaDB database and user
# `scripthammer_wp`, PHP's built-in server on SCRIPTHAMMER_WP_PORT (default 8080). The companion
# (`scripthammer up`) gets SCRIPTHAMMER_WP_URL / _WP_USER / _WP_APP_PASSWORD / _WP_SHARED_SECRET
# from var/wordpress/companion.env, written here once (an Application Password of the dedicated
# user `companion`, never a person's password). Nothing here fetches WooCommerce or BuddyPress.
# SCRIPTHAMMER_WP_DIR (default var/wordpress) and SCRIPTHAMMER_WP_DB_NAME (default scripthammer_wp,
# also the MariaDB user) put a second site beside the first.
#
# Every server started here runs in a process group of its own (setsid) and is stopped with its group
# when this script ends or is signalled: PHP's built-in server forks PHP_CLI_SERVER_WORKERS children
# that would otherwise keep listening after their master.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WITH_COMPANION=1
for arg in "$@"; do
  case "$arg" in
    --no-companion) WITH_COMPANION=0 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

PORT=${SCRIPTHAMMER_WP_PORT:-8080}
WP_URL="http://127.0.0.1:${PORT}"
COMPANION_URL=${SCRIPTHAMMER_PUBLIC_URL:-http://127.0.0.1:8750}
BASE=${SCRIPTHAMMER_WP_DIR:-$ROOT/var/wordpress}
DB=${SCRIPTHAMMER_WP_DB_NAME:-scripthammer_wp}
SITE="$BASE/site"
CORE=${SCRIPTHAMMER_WP_CORE:-/usr/share/wordpress}
ADMIN_USER=${SCRIPTHAMMER_WP_ADMIN_USER:-admin}
SUDO=""; if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need() { command -v "$1" >/dev/null 2>&1 || { echo "missing $1: run scripts/setup.sh (apt-get install $2)" >&2; exit 1; }; }
need php php-cli
[ -f "$CORE/wp-settings.php" ] || { echo "no WordPress core at $CORE: apt-get install wordpress" >&2; exit 1; }
mkdir -p "$BASE"

# --- MariaDB: running, with a database and a user of our own -----------------------------------
if ! $SUDO mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1; then
  echo "==> starting MariaDB"
  $SUDO mkdir -p /run/mysqld && $SUDO chown mysql:mysql /run/mysqld 2>/dev/null || true
  $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  for _ in $(seq 50); do $SUDO mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
fi
if [ ! -f "$BASE/db.password" ]; then
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$BASE/db.password")
fi
DB_PASS=$(cat "$BASE/db.password")
$SUDO mariadb -uroot <<SQL
CREATE DATABASE IF NOT EXISTS \`${DB}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '${DB}'@'localhost' IDENTIFIED BY '${DB_PASS}';
CREATE USER IF NOT EXISTS '${DB}'@'127.0.0.1' IDENTIFIED BY '${DB_PASS}';
ALTER USER '${DB}'@'localhost' IDENTIFIED BY '${DB_PASS}';
ALTER USER '${DB}'@'127.0.0.1' IDENTIFIED BY '${DB_PASS}';
GRANT ALL PRIVILEGES ON \`${DB}\`.* TO '${DB}'@'localhost';
GRANT ALL PRIVILEGES ON \`${DB}\`.* TO '${DB}'@'127.0.0.1';
SQL

# --- WordPress files -----------------------------------------------------------------------------
if [ ! -f "$SITE/wp-settings.php" ]; then
  echo "==> copying WordPress from $CORE"
  cp -rL "$CORE" "$SITE"
  rm -f "$SITE/wp-config.php"
fi
mkdir -p "$SITE/wp-content/uploads"
ln -sfn "$ROOT/wp-plugin/scripthammer" "$SITE/wp-content/plugins/scripthammer"
if [ ! -f "$BASE/secret" ]; then
  (umask 077; printf '%s' "${SCRIPTHAMMER_WP_SHARED_SECRET:-$(head -c 32 /dev/urandom | base64 | tr -d '/+=')}" > "$BASE/secret")
fi
SECRET=$(cat "$BASE/secret")
if [ ! -f "$SITE/wp-config.php" ]; then
  salts=$(for k in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT; do
    printf "define('%s', '%s');\n" "$k" "$(head -c 48 /dev/urandom | base64 | tr -d "/+='\n")"; done)
  cat > "$SITE/wp-config.php" <<PHP
<?php
define('DB_NAME', '${DB}');
define('DB_USER', '${DB}');
define('DB_PASSWORD', '${DB_PASS}');
define('DB_HOST', '127.0.0.1');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
${salts}
\$table_prefix = 'wp_';
define('WP_ENVIRONMENT_TYPE', 'local');
define('WP_DEBUG', true);
define('WP_DEBUG_LOG', __DIR__ . '/../debug.log');
define('WP_DEBUG_DISPLAY', false);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('FS_METHOD', 'direct');
if ( ! defined( 'ABSPATH' ) ) { define( 'ABSPATH', __DIR__ . '/' ); }
require_once ABSPATH . 'wp-settings.php';
PHP
fi

# --- serve, install, activate ------------------------------------------------------------------------
echo "==> WordPress on $WP_URL"
# setsid: a session (and process group) of its own, whose id is the server's pid ($!).
PHP_CLI_SERVER_WORKERS=4 setsid php -d memory_limit=512M -d upload_max_filesize=64M -d post_max_size=64M \
  -S "127.0.0.1:${PORT}" -t "$SITE" >"$BASE/php-server.log" 2>&1 &
PHP_PID=$!
GROUPS_STARTED=("$PHP_PID")
alive() { local g; for g in "${GROUPS_STARTED[@]}"; do kill -0 -- "-$g" 2>/dev/null && return 0; done; return 1; }
stop() {
  trap - EXIT INT TERM HUP
  local g i
  # newest first (the companion, then WordPress), each whole process group
  for ((i=${#GROUPS_STARTED[@]}-1; i>=0; i--)); do kill -TERM -- "-${GROUPS_STARTED[i]}" 2>/dev/null || true; done
  for _ in $(seq 100); do alive || break; sleep 0.1; done
  for g in "${GROUPS_STARTED[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  wait 2>/dev/null || true
  exit 0
}
trap stop EXIT INT TERM HUP
for _ in $(seq 100); do curl -fsS -o /dev/null "$WP_URL/wp-login.php" 2>/dev/null && break; sleep 0.2; done

if [ ! -f "$BASE/admin.password" ]; then
  (umask 077; head -c 12 /dev/urandom | base64 | tr -d '/+=' > "$BASE/admin.password")
fi
ADMIN_PASS=$(cat "$BASE/admin.password")
curl -fsS -o /dev/null "$WP_URL/wp-admin/install.php?step=2" \
  --data-urlencode "weblog_title=ScriptHammer" --data-urlencode "user_name=$ADMIN_USER" \
  --data-urlencode "admin_password=$ADMIN_PASS" --data-urlencode "admin_password2=$ADMIN_PASS" \
  --data-urlencode "pw_weak=1" --data-urlencode "admin_email=band@scripthammer.local" --data-urlencode "blog_public=0"

cat > "$SITE/sh-setup.php" <<PHP
<?php
\$_SERVER['HTTP_HOST'] = '127.0.0.1:${PORT}';
\$_SERVER['REQUEST_URI'] = '/';
require __DIR__ . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
wp_set_current_user( 1 );
if ( ! is_plugin_active( 'scripthammer/scripthammer.php' ) ) { activate_plugin( 'scripthammer/scripthammer.php' ); }
if ( ! get_option( 'template' ) || ! wp_get_theme()->exists() ) { switch_theme( 'twentytwentyone' ); }
update_option( 'scripthammer_settings', array_merge( (array) get_option( 'scripthammer_settings', array() ),
  array( 'companion_url' => '${COMPANION_URL}', 'shared_secret' => file_get_contents( '${BASE}/secret' ) ) ) );
update_option( 'blogdescription', 'Futuristic jazz, fractal funk and cosmic rhythm cycles' );
\$user = get_user_by( 'login', 'companion' );
if ( ! \$user ) {
  \$id = wp_insert_user( array( 'user_login' => 'companion', 'user_pass' => wp_generate_password( 32 ),
    'user_email' => 'companion@scripthammer.local', 'role' => 'scripthammer_leader', 'display_name' => 'ScriptHammer companion' ) );
  \$user = get_user_by( 'id', \$id );
}
if ( ! file_exists( '${BASE}/app.password' ) ) {
  \$made = WP_Application_Passwords::create_new_application_password( \$user->ID, array( 'name' => 'ScriptHammer companion ' . time() ) );
  file_put_contents( '${BASE}/app.password', \$made[0] );
  chmod( '${BASE}/app.password', 0600 );
}
echo "ok\n";
PHP
php "$SITE/sh-setup.php" >/dev/null
rm -f "$SITE/sh-setup.php"
cat > "$BASE/companion.env" <<ENV
SCRIPTHAMMER_WP_URL=$WP_URL
SCRIPTHAMMER_WP_USER=companion
SCRIPTHAMMER_WP_APP_PASSWORD=$(cat "$BASE/app.password")
SCRIPTHAMMER_WP_SHARED_SECRET=$SECRET
ENV
chmod 600 "$BASE/companion.env"

if [ "$WITH_COMPANION" = 1 ]; then
  echo "==> starting the companion with WordPress settings (scripthammer up)"
  set -a; . "$BASE/companion.env"; set +a
  export SCRIPTHAMMER_PUBLIC_URL="$COMPANION_URL"
  setsid .venv/bin/scripthammer up &
  GROUPS_STARTED+=("$!")
  echo "==> waiting for the demo track, then publishing it"
  .venv/bin/python - <<'PY'
import json, os, sys, time
import requests
from companion.band.signing import sign

base = os.environ["SCRIPTHAMMER_PUBLIC_URL"].rstrip("/")
secret = os.environ["SCRIPTHAMMER_WP_SHARED_SECRET"]

def call(method, path):
    return requests.request(method, base + path, headers=sign(secret, method, path), timeout=30)

deadline = time.time() + 900
track = None
while time.time() < deadline:
    try:
        tracks = call("GET", "/api/tracks").json()
        track = next((t for t in tracks if t["slug"] == "cosmic-cycle-demo" and t["status"] == "ready"), None)
        if track:
            break
    except (requests.RequestException, ValueError, KeyError, TypeError):
        pass
    time.sleep(2)
if not track:
    sys.exit("the demo track did not become ready (see the companion's output)")
for kind, item in (("album", track["album_id"]), ("track", track["id"])):
    if item is None:
        continue
    r = call("POST", f"/api/{kind}s/{item}/publish")
    if r.status_code == 404:
        sys.exit("the companion has no publishing API: companion.wordpress.api must be registered in create_app")
    r.raise_for_status()
    job = r.json()["job_id"]
    while True:
        state = call("GET", f"/api/jobs/{job}").json()
        if state["state"] in ("finished", "failed"):
            break
        time.sleep(1)
    pub = call("GET", f"/api/{kind}s/{item}/publication").json()
    if pub["state"] != "published":
        sys.exit(f"publishing the {kind} failed: {pub.get('error')}")
    print(f"published {kind} {item}: {pub['wp_link']}")
PY
fi

cat <<TXT

WordPress is running:
  site        $WP_URL/
  wp-admin    $WP_URL/wp-admin/   (user $ADMIN_USER, password in var/wordpress/admin.password)
  tracks      $WP_URL/wp-admin/edit.php?post_type=sh_track
  settings    $WP_URL/wp-admin/options-general.php?page=scripthammer
Companion settings for WordPress: var/wordpress/companion.env
Ctrl-C stops everything started here.
TXT
wait "$PHP_PID"
