"""A real WordPress for the plugin and publishing tests, started once per core in a session.

The suite runs against two cores (the session fixture ``wp_core`` is parametrised, so every test
that uses WordPress or the companion runs on each, with ids ``[wp6.1]`` and ``[wp6.5]``):

- ``wp6.1``: Debian's ``wordpress`` package (core under /usr/share/wordpress, or SCRIPTHAMMER_WP_CORE);
- ``wp6.5``: the newest core available here, 6.5.x from the npm package ``@wp-playground/wordpress-builds``
  (pinned in tests/wordpress/wp-core/package-lock.json, installed there with ``npm ci`` when missing):
  its core zip (PHP with comments stripped) is unzipped to a scratch folder and its static files
  (public/wp-6.5/: CSS, JS, images, fonts) copied over it.

SCRIPTHAMMER_WP_CORES=6.1 (or 6.5) runs one of them only. Each core is copied to a scratch folder,
configured for a MariaDB database and user of its own, served by PHP's built-in server, installed with
one POST and given the ScriptHammer plugin. A companion of its own (the Flask app on a live port, a
real RQ worker process, Redis) sits beside it, sharing the signing secret.

WooCommerce, WooCommerce Subscriptions and BuddyPress: when SCRIPTHAMMER_WP_EXTRA_PLUGINS names a
folder holding ``woocommerce/``, ``woocommerce-subscriptions/`` and/or ``buddypress/``, those real
plugins are used; otherwise the small labelled stand-ins in tests/wordpress/standins/.
"""
from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import IN_CI, build_config, free_port, prepare, start_server, stop_group, wait_for_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PLUGIN_DIR = REPO / "wp-plugin" / "scripthammer"
ADMIN_SRC = REPO / "wp-plugin" / "admin-src"  # the Listening dashboard's script (npm), built into PLUGIN_DIR
STANDINS = HERE / "standins"
WP_CORE = Path(os.environ.get("SCRIPTHAMMER_WP_CORE", "/usr/share/wordpress"))
NPM_CORE_DIR = HERE / "wp-core"  # package.json + package-lock.json; node_modules/ is not committed
NPM_CORE_PACKAGE = NPM_CORE_DIR / "node_modules" / "@wp-playground" / "wordpress-builds"
NPM_CORE_BRANCH = "6.5"
#: which cores the suite runs on (comma-separated): "6.1" Debian's, "6.5" the npm package's.
WP_CORES = [c.strip() for c in os.environ.get("SCRIPTHAMMER_WP_CORES", "6.1,6.5").split(",") if c.strip()]
EXTRA_PLUGINS = os.environ.get("SCRIPTHAMMER_WP_EXTRA_PLUGINS", "")
MARIADB_SOCKET = os.environ.get("SCRIPTHAMMER_TEST_MARIADB_SOCKET", "/run/mysqld/mysqld.sock")
SECRET = "wp-test-secret-" + uuid.uuid4().hex[:12]
ADMIN_USER, ADMIN_PASS = "admin", "admin-" + uuid.uuid4().hex[:10]
PUBLISHER = "companion"

#: plugin file (relative to wp-content/plugins) of each real plugin and of its stand-in.
REAL = {"woocommerce": "woocommerce/woocommerce.php",
        "subscriptions": "woocommerce-subscriptions/woocommerce-subscriptions.php",
        "buddypress": "buddypress/bp-loader.php"}
STANDIN = {"woocommerce": "scripthammer-standin-woocommerce/scripthammer-standin-woocommerce.php",
           "subscriptions": "scripthammer-standin-subscriptions/scripthammer-standin-subscriptions.php",
           "buddypress": "scripthammer-standin-buddypress/scripthammer-standin-buddypress.php"}


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        msg = f"{tool} is not installed: scripts/setup.sh installs it (apt-get install php-cli ...)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


class PHPError(RuntimeError):
    pass


@dataclasses.dataclass
class WordPress:
    """A running WordPress: its URL, folder and helpers to drive it."""

    url: str
    root: Path
    port: int
    db: dict
    log: Path
    plugins: dict = dataclasses.field(default_factory=dict)  # "woocommerce" -> plugin file in use
    real: set = dataclasses.field(default_factory=set)  # which of them are the real plugins
    app_password: str = ""
    core: str = "wp6.1"  # which core: "wp6.1" (Debian's) or "wp6.5" (npm)
    version: str = ""  # its exact version, e.g. "6.1.1", "6.5.5"

    def rest_url(self, route: str) -> str:
        """The URL of a REST route with plain permalinks (/?rest_route=...)."""
        route, _, query = route.partition("?")
        return f"{self.url}/?rest_route={route}" + (f"&{query}" if query else "")

    def php(self, code: str, *, user: int | str = 1, timeout: float = 120) -> object:
        """Run PHP inside WordPress (wp-load.php) as ``user``; returns what the code returns (JSON)."""
        script = self.root / f"sh-cli-{uuid.uuid4().hex[:8]}.php"
        script.write_text(f"""<?php
$_SERVER['HTTP_HOST'] = '127.0.0.1:{self.port}';
$_SERVER['SERVER_NAME'] = '127.0.0.1';
$_SERVER['SERVER_PORT'] = '{self.port}';
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
require {str(self.root / 'wp-load.php')!r};
require_once ABSPATH . 'wp-admin/includes/plugin.php';
require_once ABSPATH . 'wp-admin/includes/user.php';
$sh_user = {json.dumps(user)};
if ( is_string( $sh_user ) ) {{ $sh_user = get_user_by( 'login', $sh_user )->ID; }}
wp_set_current_user( (int) $sh_user );
$sh_result = ( function () {{
{code}
}} )();
echo "\\n<<<SH-JSON>>>" . wp_json_encode( $sh_result );
""")
        try:
            proc = subprocess.run(["php", "-d", "display_errors=stderr", "-d", "memory_limit=512M", str(script)],
                                  cwd=self.root, capture_output=True, text=True, timeout=timeout)
        finally:
            script.unlink(missing_ok=True)
        out = proc.stdout
        if proc.returncode != 0 or "<<<SH-JSON>>>" not in out:
            fatal = [line for line in self.debug_log().splitlines() if "PHP Fatal" in line][-3:]
            raise PHPError(f"php failed ({proc.returncode}):\nFATAL:\n" + "\n".join(fatal) +
                           f"\nSTDOUT:\n{out[-1500:]}\nSTDERR:\n{proc.stderr[-3000:]}")
        return json.loads(out.split("<<<SH-JSON>>>", 1)[1])

    def activate(self, *plugin_files: str) -> None:
        self.php("foreach (" + json.dumps(list(plugin_files)) + """ as $p) {
  $r = activate_plugin( $p );
  if ( is_wp_error( $r ) ) { throw new Exception( $p . ': ' . $r->get_error_message() ); }
}
return get_option('active_plugins');""")

    def deactivate(self, *plugin_files: str) -> None:
        self.php("deactivate_plugins(" + json.dumps(list(plugin_files)) + "); return true;")

    def active_plugins(self) -> list[str]:
        return list(self.php("return array_values( get_option( 'active_plugins' ) );"))

    def admin_session(self, user: str = ADMIN_USER, password: str = ADMIN_PASS) -> requests.Session:
        """A requests session logged in to wp-admin."""
        s = requests.Session()
        s.get(f"{self.url}/wp-login.php", timeout=30)
        r = s.post(f"{self.url}/wp-login.php", data={"log": user, "pwd": password, "wp-submit": "Log In",
                                                     "redirect_to": f"{self.url}/wp-admin/", "testcookie": "1"},
                   timeout=60)
        assert "wp-admin" in r.url and r.status_code == 200, (r.status_code, r.url)
        return s

    def debug_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def plugin_problems(self) -> list[str]:
        """debug.log lines the plugin caused (notices, warnings, errors in its files), and any fatal error."""
        marks = ("/plugins/scripthammer/", str(PLUGIN_DIR) + "/", "PHP Fatal")
        return [line for line in self.debug_log().splitlines() if any(m in line for m in marks)]


def _mariadb_admin():
    import pymysql

    if Path(MARIADB_SOCKET).exists():
        try:
            return pymysql.connect(unix_socket=MARIADB_SOCKET, user="root", password="", autocommit=True)
        except pymysql.MySQLError:
            pass
    from sqlalchemy.engine import make_url

    url = make_url(os.environ.get("SCRIPTHAMMER_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306"))
    return pymysql.connect(host=url.host or "127.0.0.1", port=url.port or 3306, user=url.username or "root",
                           password=url.password or "", autocommit=True)


@dataclasses.dataclass(frozen=True)
class Core:
    """Where a WordPress core comes from and how to lay it out in a site folder."""

    branch: str  # "6.1", "6.5"
    source: str  # "debian", "npm"

    @property
    def label(self) -> str:
        return f"wp{self.branch}"

    def install_into(self, root: Path) -> str:
        """Lay the core out in ``root`` (which must not exist); returns its exact version."""
        if self.source == "debian":
            if not (WP_CORE / "wp-settings.php").exists():
                _missing(f"no WordPress core at {WP_CORE}: apt-get install wordpress (scripts/setup.sh does)")
            shutil.copytree(WP_CORE, root, symlinks=False)  # Debian's core is full of links: follow them
        else:
            _unpack_npm_core(self.branch, root)
        version = (root / "wp-includes" / "version.php").read_text()
        return version.split("$wp_version", 1)[1].split("'")[1]


def _missing(msg: str) -> None:
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


_NPM_LOCK = threading.Lock()


def ensure_npm_core() -> Path:
    """tests/wordpress/wp-core/node_modules from the npm registry (``npm ci``), once per checkout."""
    with _NPM_LOCK:
        zip_path = NPM_CORE_PACKAGE / "src" / "wordpress" / f"wp-{NPM_CORE_BRANCH}.zip"
        if zip_path.exists():
            return NPM_CORE_PACKAGE
        npm = shutil.which("npm")
        if npm is None:
            _missing("npm is not installed: scripts/setup.sh installs Node.js and npm")
        cmd = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
        proc = subprocess.run(cmd, cwd=NPM_CORE_DIR, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0 or not zip_path.exists():
            _missing(f"npm ci in {NPM_CORE_DIR} failed ({proc.returncode}): {proc.stderr[-1500:]}")
        return NPM_CORE_PACKAGE


def _unpack_npm_core(branch: str, root: Path) -> None:
    """The Playground build of WordPress ``branch``: its PHP zip, then its static files over it."""
    import zipfile

    package = ensure_npm_core()
    with zipfile.ZipFile(package / "src" / "wordpress" / f"wp-{branch}.zip") as z:
        z.extractall(root)
    # Static files (CSS, JS, images, fonts) are kept out of the zip, under public/wp-<branch>/.
    shutil.copytree(package / "public" / f"wp-{branch}", root, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("wordpress-remote-asset-paths"))
    # Playground's own pieces: its SQLite database and list of remote assets; wp-config.php is ours.
    shutil.rmtree(root / "wp-content" / "database", ignore_errors=True)
    for name in ("wordpress-remote-asset-paths", "wp-config.php", ".default_theme"):
        (root / name).unlink(missing_ok=True)


_CORES = {"6.1": Core("6.1", "debian"), "6.5": Core(NPM_CORE_BRANCH, "npm")}


@pytest.fixture(scope="session", params=[_CORES[c] for c in WP_CORES if c in _CORES],
                ids=lambda c: c.label)
def wp_core(request) -> Core:
    """The WordPress core this part of the session runs on: every WordPress fixture depends on it."""
    return request.param


@pytest.fixture(scope="session")
def wp_database(wp_core):
    """A database and a user of the suite's own on the local MariaDB."""
    try:
        conn = _mariadb_admin()
    except Exception as exc:  # noqa: BLE001
        if IN_CI:
            pytest.fail(f"MariaDB is not reachable: {exc}")
        pytest.skip(f"MariaDB is not reachable: {exc}")
    name = f"shm_wp_{uuid.uuid4().hex[:10]}"
    password = secrets.token_urlsafe(16)
    with conn.cursor() as c:
        c.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        try:
            for host in ("localhost", "127.0.0.1"):
                c.execute(f"CREATE USER '{name}'@'{host}' IDENTIFIED BY %s", (password,))
                c.execute(f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{name}'@'{host}'")
            db = {"name": name, "user": name, "password": password, "host": "127.0.0.1"}
        except Exception:  # noqa: BLE001 - no CREATE USER right: use the admin's own account
            db = {"name": name, "user": conn.user.decode() if isinstance(conn.user, bytes) else conn.user,
                  "password": (conn.password or b"").decode() if isinstance(conn.password, bytes) else (conn.password or ""),
                  "host": "127.0.0.1"}
    yield db
    with conn.cursor() as c:
        c.execute(f"DROP DATABASE IF EXISTS `{name}`")
        for host in ("localhost", "127.0.0.1"):
            c.execute(f"DROP USER IF EXISTS '{name}'@'{host}'")
    conn.close()


def config_env(config) -> dict[str, str]:
    """SCRIPTHAMMER_* variables that rebuild ``config`` in another process."""
    env = dict(os.environ)
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        env["SCRIPTHAMMER_" + f.name.upper()] = str(value)
    return env


@dataclasses.dataclass
class Companion:
    url: str
    app: object
    config: object
    tokens: dict
    worker: subprocess.Popen | None = None

    @property
    def svc(self):
        return self.app.extensions["scripthammer"]

    def wait_job(self, job_id: str, timeout: float = 120) -> dict:
        from companion.tasks.models import Job

        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.svc.db.session() as s:
                job = s.get(Job, job_id)
                if job.state in ("finished", "failed"):
                    return {"state": job.state, "error_code": job.error_code, "error_message": job.error_message,
                            "result": job.result}
            time.sleep(0.3)
        raise TimeoutError(f"job {job_id} did not finish in {timeout}s")


@pytest.fixture(scope="session")
def ports(wp_core) -> dict:
    return {"wp": free_port(), "companion": free_port()}


@pytest.fixture(scope="session")
def companion(wp_core, tmp_path_factory, redis_url, ports):
    """The companion on a live port, with a real RQ worker process, sharing WordPress's secret."""
    from werkzeug.serving import make_server

    from companion import create_app
    from jobs import context

    tmp = tmp_path_factory.mktemp(f"companion-{wp_core.label}")
    url = f"http://127.0.0.1:{ports['companion']}"
    config = build_config(tmp, f"sqlite:///{tmp / 'companion.db'}", redis_url, wp_shared_secret=SECRET,
                          public_url=url, wp_url=f"http://127.0.0.1:{ports['wp']}", wp_user=PUBLISHER,
                          hls_bitrates="64", preview_seconds=4)
    tokens = prepare(config)
    app = create_app(config)
    server = make_server("127.0.0.1", ports["companion"], app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    comp = Companion(url=url, app=app, config=config, tokens=tokens)
    yield comp
    stop_group(comp.worker, timeout=15)
    server.shutdown()
    context.configure(None)
    app.extensions["scripthammer"].close()


@pytest.fixture(scope="session")
def companion_worker(companion, wordpress, tmp_path_factory):
    """A real RQ worker process on the companion's queue (started once WordPress's password is known)."""
    log = open(tmp_path_factory.mktemp("worker") / "worker.log", "wb")
    env = config_env(companion.config)
    companion.worker = start_server([sys.executable, "-m", "companion.cli", "worker"], cwd=REPO, env=env,
                                    stdout=log, stderr=subprocess.STDOUT)
    yield companion.worker
    stop_group(companion.worker, timeout=15)  # the worker and its work horse
    log.close()


@pytest.fixture(autouse=True)
def _jobs_context(request):
    """Jobs run in this process use the session companion's config."""
    if "companion" in request.fixturenames:
        from jobs import context

        context.configure(request.getfixturevalue("companion").config)
    yield


def real_plugins() -> set[str]:
    """Which of WooCommerce, Subscriptions and BuddyPress are the real plugins in this run (found in
    SCRIPTHAMMER_WP_EXTRA_PLUGINS); the others are the labelled stand-ins."""
    extra = Path(EXTRA_PLUGINS) if EXTRA_PLUGINS else None
    return {key for key, plugin_file in REAL.items() if extra is not None and (extra / plugin_file).exists()}


#: the fixtures that switch on the commerce and community plugins, and which plugins each stands on
PLUGIN_FIXTURES = {"woo": ("woocommerce", "subscriptions"), "bp": ("buddypress",),
                   "store": ("woocommerce", "subscriptions")}  # test_shop_flow's shop


def pytest_generate_tests(metafunc):
    """A test on WooCommerce, Subscriptions or BuddyPress says in its id what it ran against:
    ``[...-standin-plugins]`` (one of them is a stand-in) or ``[...-real-plugins]``."""
    keys = [k for fx, ks in PLUGIN_FIXTURES.items() if fx in metafunc.fixturenames for k in ks]
    if keys:
        label = "real-plugins" if set(keys) <= real_plugins() else "standin-plugins"
        metafunc.parametrize("plugin_kind", [label], ids=[label], scope="module")


@pytest.fixture(scope="module")
def plugin_kind(request) -> str:
    """"real-plugins" or "standin-plugins" (set by pytest_generate_tests)."""
    return request.param


@pytest.fixture(scope="module")
def woo(wordpress, plugin_kind):
    """WordPress with WooCommerce active (the real one, or its stand-in: see the test's id)."""
    wordpress.activate(wordpress.plugins["woocommerce"])
    wordpress.admin_session().get(f"{wordpress.url}/wp-admin/", timeout=120)  # admin_init once, as an admin
    yield wordpress
    wordpress.deactivate(wordpress.plugins["subscriptions"], wordpress.plugins["woocommerce"])


@pytest.fixture(scope="module")
def bp(wordpress, plugin_kind):
    """WordPress with BuddyPress active (the real one, or its stand-in: see the test's id)."""
    wordpress.activate(wordpress.plugins["buddypress"])
    if "buddypress" in wordpress.real:
        # Real BuddyPress: its tables come with admin_init as an administrator.
        wordpress.admin_session().get(f"{wordpress.url}/wp-admin/", timeout=120)
    yield wordpress
    wordpress.deactivate(wordpress.plugins["buddypress"])


def build_dashboard() -> Path:
    """The Listening dashboard's script, as scripts/setup.sh builds it: npm ci when node_modules is missing,
    npm run build when a source is newer than the built file; the built folder (in the plugin)."""
    built = PLUGIN_DIR / "assets" / "dashboard" / "dashboard.js"
    npm = shutil.which("npm")
    if npm is None:
        _missing("npm is not installed: scripts/setup.sh installs Node.js and npm")
    if not (ADMIN_SRC / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ADMIN_SRC, check=True)
    sources = list((ADMIN_SRC / "src").glob("*")) + [ADMIN_SRC / "build.mjs", ADMIN_SRC / "package-lock.json"]
    if not built.exists() or max(p.stat().st_mtime for p in sources) > built.stat().st_mtime:
        subprocess.run([npm, "run", "build", "--silent"], cwd=ADMIN_SRC, check=True, capture_output=True)
    return built.parent


def _link_plugins(plugins_dir: Path) -> tuple[dict, set]:
    build_dashboard()  # the plugin as installed carries its built dashboard script
    (plugins_dir / "scripthammer").symlink_to(PLUGIN_DIR, target_is_directory=True)
    chosen: dict[str, str] = {}
    real: set[str] = set()
    extra = Path(EXTRA_PLUGINS) if EXTRA_PLUGINS else None
    for key, plugin_file in REAL.items():
        folder = plugin_file.split("/")[0]
        if key in real_plugins():
            (plugins_dir / folder).symlink_to(extra / folder, target_is_directory=True)
            chosen[key] = plugin_file
            real.add(key)
        else:
            standin_folder = STANDIN[key].split("/")[0]
            (plugins_dir / standin_folder).symlink_to(STANDINS / standin_folder, target_is_directory=True)
            chosen[key] = STANDIN[key]
    return chosen, real


def _write_wp_config(root: Path, db: dict, log: Path) -> None:
    (root / "wp-config.php").unlink(missing_ok=True)
    salts = "\n".join(f"define('{k}', '{secrets.token_hex(24)}');" for k in (
        "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "SECURE_AUTH_SALT",
        "LOGGED_IN_SALT", "NONCE_SALT"))
    (root / "wp-config.php").write_text(f"""<?php
define('DB_NAME', '{db['name']}');
define('DB_USER', '{db['user']}');
define('DB_PASSWORD', '{db['password']}');
define('DB_HOST', '{db['host']}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
{salts}
$table_prefix = 'wp_';
define('WP_ENVIRONMENT_TYPE', 'local');
define('WP_DEBUG', true);
define('WP_DEBUG_LOG', '{log}');
define('WP_DEBUG_DISPLAY', false);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
define('FS_METHOD', 'direct');
if ( ! defined( 'ABSPATH' ) ) {{ define( 'ABSPATH', __DIR__ . '/' ); }}
require_once ABSPATH . 'wp-settings.php';
""")


@pytest.fixture(scope="session")
def wordpress(wp_core, wp_database, companion, ports, tmp_path_factory):
    """A real WordPress on ``wp_core`` with the ScriptHammer plugin active, pointed at its companion."""
    _need("php")
    base = tmp_path_factory.mktemp(f"wordpress-{wp_core.label}")
    root = base / "site"
    version = wp_core.install_into(root)
    log = base / "debug.log"
    _write_wp_config(root, wp_database, log)
    plugins_dir = root / "wp-content" / "plugins"
    (root / "wp-content" / "uploads").mkdir(parents=True, exist_ok=True)
    chosen, real = _link_plugins(plugins_dir)
    port = ports["wp"]
    env = dict(os.environ, PHP_CLI_SERVER_WORKERS="4")
    server_log = open(base / "php-server.log", "wb")
    # Its own process group: PHP's built-in server forks PHP_CLI_SERVER_WORKERS children that keep
    # listening after their master is gone, so the group is stopped, not the master.
    proc = start_server(["php", "-d", "memory_limit=512M", "-d", "upload_max_filesize=64M",
                         "-d", "post_max_size=64M", "-S", f"127.0.0.1:{port}", "-t", str(root)],
                        cwd=root, env=env, stdout=server_log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=20)
        url = f"http://127.0.0.1:{port}"
        r = requests.post(f"{url}/wp-admin/install.php?step=2", data={
            "weblog_title": "ScriptHammer", "user_name": ADMIN_USER, "admin_password": ADMIN_PASS,
            "admin_password2": ADMIN_PASS, "pw_weak": "1", "admin_email": "band@scripthammer.test",
            "blog_public": "0", "language": ""}, timeout=120)
        assert r.status_code == 200, r.text[:2000]
        wp = WordPress(url=url, root=root, port=port, db=wp_database, log=log, plugins=chosen, real=real,
                       core=wp_core.label, version=version)
        assert wp.php("return get_bloginfo( 'version' );") == version
        wp.activate("scripthammer/scripthammer.php")
        password = wp.php(f"""
update_option( 'scripthammer_settings', array_merge( get_option( 'scripthammer_settings', array() ), array(
  'companion_url' => {json.dumps(companion.url)}, 'shared_secret' => {json.dumps(SECRET)} ) ) );
update_option( 'blogdescription', 'Futuristic jazz, fractal funk and cosmic rhythm cycles' );
$id = wp_insert_user( array( 'user_login' => {json.dumps(PUBLISHER)}, 'user_pass' => wp_generate_password( 24 ),
  'user_email' => 'companion@scripthammer.test', 'role' => 'scripthammer_leader', 'display_name' => 'The companion' ) );
if ( is_wp_error( $id ) ) {{ throw new Exception( $id->get_error_message() ); }}
$created = WP_Application_Passwords::create_new_application_password( $id, array( 'name' => 'ScriptHammer companion' ) );
if ( is_wp_error( $created ) ) {{ throw new Exception( $created->get_error_message() ); }}
return $created[0];
""")
        wp.app_password = password
        companion.config.wp_app_password = password
        yield wp
    finally:
        stop_group(proc)
        server_log.close()


@pytest.fixture(scope="session")
def premium_recording(companion, companion_worker, tmp_path_factory) -> int:
    """A premium track with a 12-second recording through the release pipeline (not published; the test
    companion's preview is 4 s, so what plays tells the preview from the whole): its id."""
    import hashlib

    from companion.catalog import service as catalog
    from companion.catalog.uploads import accept_upload
    from tests.conftest import make_audio

    svc = companion.svc
    with svc.db.session() as s:
        track_id = catalog.create_track(s, title="Paid Orbit", release_state="premium").id
    audio = make_audio(tmp_path_factory.mktemp("premium-audio") / "orbit.wav", 12.0)
    with companion.app.test_request_context():  # accept_upload answers with the track's JSON for a caller
        job_id, _ = accept_upload(svc, track_id, audio, audio.name, hashlib.sha256(audio.read_bytes()).hexdigest())
    done = companion.wait_job(job_id, timeout=180)
    assert done["state"] == "finished", done
    return track_id


def publish_track(companion, track_id: int) -> dict:
    """Publish through the API as the leader and wait for the job: the job's result."""
    r = requests.post(f"{companion.url}/api/tracks/{track_id}/publish", timeout=60,
                      headers={"Authorization": f"Bearer {companion.tokens['ivory']}"})
    assert r.status_code == 202, r.text
    job = companion.wait_job(r.json()["job_id"])
    assert job["state"] == "finished", job
    return job["result"]


@pytest.fixture(scope="session")
def artifacts(wp_core) -> Path:
    """Where screenshots go (kept after the run): var/test-artifacts/wordpress/<core>/ (wp6.1, wp6.5)."""
    d = REPO / "var" / "test-artifacts" / "wordpress" / wp_core.label
    d.mkdir(parents=True, exist_ok=True)
    return d


