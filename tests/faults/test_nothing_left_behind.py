"""Nothing left behind: servers run in process groups of their own and are stopped with their children;
a session that leaves a process running fails; scripts/wordpress.sh stops its PHP workers when signalled."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import IN_CI, free_port, group_members, start_server, stop_group, wait_for_port

REPO = Path(__file__).resolve().parents[2]


def _need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            msg = f"{tool} is not installed (scripts/setup.sh installs it)"
            if IN_CI:
                pytest.fail(msg)
            pytest.skip(msg)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _php_server(tmp_path: Path, port: int) -> subprocess.Popen:
    root = tmp_path / "docroot"
    root.mkdir(exist_ok=True)
    (root / "index.php").write_text("<?php echo 'ok';")
    proc = start_server(["php", "-S", f"127.0.0.1:{port}", "-t", str(root)], env=dict(os.environ, PHP_CLI_SERVER_WORKERS="4"),
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    time.sleep(0.3)  # the workers fork right after the master binds
    return proc


def test_stopping_only_the_php_master_leaves_its_workers_listening(tmp_path):
    """The bug this room fixes: terminate() on PHP's built-in server leaves its PHP_CLI_SERVER_WORKERS running."""
    _need("php")
    port = free_port()
    proc = _php_server(tmp_path, port)
    workers = [p for p in group_members(proc.pid) if p != proc.pid]
    try:
        assert len(workers) == 4, workers
        proc.terminate()
        proc.wait(10)
        time.sleep(0.5)
        assert [p for p in workers if _alive(p)] == workers  # the old fixture's way: all four still there
    finally:
        stop_group(proc)
    assert not any(_alive(p) for p in workers) and not group_members(proc.pid)


def test_stop_group_stops_the_php_server_and_every_worker(tmp_path):
    _need("php")
    port = free_port()
    proc = _php_server(tmp_path, port)
    members = group_members(proc.pid)
    assert len(members) == 5 and proc.pid in members  # the master and PHP_CLI_SERVER_WORKERS=4
    stop_group(proc)
    assert not any(_alive(p) for p in members)
    assert not _port_open(port)


def _inner_session(leak: bool) -> subprocess.CompletedProcess:
    env = dict(os.environ, SHM_LEAK="1" if leak else "0")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(Path(__file__).with_name("leaky_session.py"))], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_session_that_leaves_a_process_running_fails_and_names_it():
    run = _inner_session(leak=True)
    out = run.stdout + run.stderr
    assert run.returncode == 1, out[-3000:]
    assert "1 passed" in out  # the test itself passed: the session failed because of what it left
    assert "processes left behind by the test session" in out, out[-3000:]
    line = next(ln for ln in out.splitlines() if ln.strip().endswith("sleep 300"))
    pid = int(line.split()[0])
    assert not _alive(pid)  # and it was killed, not left for the next run


def test_a_session_that_stops_its_servers_passes():
    """The same session without the leak: its redis-server (a session fixture) is stopped, nothing is reported."""
    run = _inner_session(leak=False)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert "left behind" not in out


def _marked(marker: str) -> list[int]:
    token = marker.encode()
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _alive(int(entry)):
            try:
                if token in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                    out.append(int(entry))
            except OSError:
                pass
    return out


def _mariadb(sql: str) -> None:
    subprocess.run(["mariadb", "-uroot", "-e", sql], check=True, capture_output=True, timeout=60)


@pytest.mark.parametrize("sig,group", [(signal.SIGTERM, False), (signal.SIGHUP, False), (signal.SIGINT, True),
                                       (signal.SIGTERM, True)], ids=["kill", "hangup", "ctrl-c", "kill-group"])
def test_wordpress_sh_stops_php_and_its_workers_when_signalled(tmp_path, sig, group):
    """``kill <pid>``, a closed terminal, Ctrl-C (SIGINT to the terminal's process group) and a supervisor
    stopping the script's group: afterwards no PHP process of the script's is left, and its port is closed."""
    _need("php", "mariadb", "setsid", "curl")
    if not Path("/usr/share/wordpress/wp-settings.php").exists():
        msg = "Debian's wordpress package is not installed (scripts/setup.sh installs it)"
        pytest.fail(msg) if IN_CI else pytest.skip(msg)
    if subprocess.run(["mariadb", "-uroot", "-e", "SELECT 1"], capture_output=True).returncode != 0:
        msg = "MariaDB is not reachable as root (scripts/services.sh starts it)"
        pytest.fail(msg) if IN_CI else pytest.skip(msg)
    port, db = free_port(), f"shm_wpsh_{uuid.uuid4().hex[:8]}"
    marker = f"SHM_WPSH_RUN={uuid.uuid4().hex}"
    env = dict(os.environ, SCRIPTHAMMER_WP_PORT=str(port), SCRIPTHAMMER_WP_DIR=str(tmp_path / "wp"),
               SCRIPTHAMMER_WP_DB_NAME=db, **dict([marker.split("=", 1)]))
    log = open(tmp_path / "wordpress.log", "w")
    script = subprocess.Popen(["bash", str(REPO / "scripts" / "wordpress.sh"), "--no-companion"], cwd=REPO, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 240
        while "WordPress is running" not in (tmp_path / "wordpress.log").read_text() and time.time() < deadline:
            assert script.poll() is None, (tmp_path / "wordpress.log").read_text()[-3000:]
            time.sleep(0.5)
        assert _port_open(port), (tmp_path / "wordpress.log").read_text()[-3000:]
        php = [p for p in _marked(marker) if "php" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")]
        assert len(php) == 5, php  # the server and its 4 workers
        if group:
            os.killpg(script.pid, sig)
        else:
            script.send_signal(sig)
        script.wait(30)
        deadline = time.time() + 15
        while _marked(marker) and time.time() < deadline:
            time.sleep(0.2)
        assert _marked(marker) == [], [Path(f"/proc/{p}/cmdline").read_bytes() for p in _marked(marker)]
        assert not _port_open(port)
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.wait(10)
        for pid in _marked(marker):
            os.kill(pid, signal.SIGKILL)
        log.close()
        _mariadb(f"DROP DATABASE IF EXISTS `{db}`; DROP USER IF EXISTS '{db}'@'localhost'; "
                 f"DROP USER IF EXISTS '{db}'@'127.0.0.1';")
