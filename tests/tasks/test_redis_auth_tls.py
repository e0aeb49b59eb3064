"""Redis with AUTH and with TLS, from the config: jobs are queued and worked through both; a wrong
password or an unknown certificate authority is a clean 503 queue_unavailable; secrets are not shown."""
from __future__ import annotations

import io
import subprocess

import pytest
from rq import SimpleWorker

from companion import create_app
from companion.config import Config
from tests.catalog.test_catalog_api import make_wav
from tests.conftest import build_config, free_port, prepare, start_server, stop_group, wait_for_port

PASSWORD = "s3cret-redis-pass"


def _redis(tmp_path, *args: str):
    proc = start_server(["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                         "--dir", str(tmp_path), *args], stdout=open(tmp_path / "redis.log", "ab"))
    return proc


def _release_through(cfg, tmp_path) -> tuple[int, str]:
    """Upload a take and work the queue: (upload status, job state or error code)."""
    tokens = prepare(cfg)
    app = create_app(cfg)
    client, svc = app.test_client(), app.extensions["scripthammer"]
    h = {"Authorization": f"Bearer {tokens['ivory']}"}
    t = client.post("/api/tracks", json={"title": "Secure"}, headers=h).get_json()
    r = client.post(f"/api/tracks/{t['id']}/upload", data={"file": (io.BytesIO(make_wav(1.0)), "a.wav")}, headers=h,
                    content_type="multipart/form-data")
    if r.status_code != 202:
        svc.close()
        return r.status_code, r.get_json()["code"]
    svc.worker(SimpleWorker).work(burst=True, with_scheduler=False)
    state = client.get(r.get_json()["job_url"], headers=h).get_json()["state"]
    svc.close()
    return r.status_code, state


def test_redis_auth(tmp_path, redis_url):
    port = free_port()
    proc = _redis(tmp_path, "--port", str(port), "--requirepass", PASSWORD)
    try:
        wait_for_port(port)
        url = f"redis://127.0.0.1:{port}/0"
        ok = build_config(tmp_path / "a", f"sqlite:///{tmp_path / 'a.db'}", url, redis_password=PASSWORD)
        assert _release_through(ok, tmp_path) == (202, "finished")
        wrong = build_config(tmp_path / "b", f"sqlite:///{tmp_path / 'b.db'}", url, redis_password="guess")
        assert _release_through(wrong, tmp_path) == (503, "queue_unavailable")
        in_url = build_config(tmp_path / "c", f"sqlite:///{tmp_path / 'c.db'}", f"redis://:{PASSWORD}@127.0.0.1:{port}/0")
        assert _release_through(in_url, tmp_path) == (202, "finished")
        shown = in_url.public()
        assert PASSWORD not in repr(shown) and PASSWORD not in repr(ok.public())
        assert shown["redis_url"] == f"redis://:***@127.0.0.1:{port}/0" and ok.public()["redis_password"] == "***"
    finally:
        stop_group(proc)


def test_redis_settings_come_from_the_environment():
    cfg = Config.from_env({"SCRIPTHAMMER_REDIS_URL": "rediss://cache.internal:6380/2", "SCRIPTHAMMER_REDIS_USERNAME": "companion",
                           "SCRIPTHAMMER_REDIS_PASSWORD": "pw", "SCRIPTHAMMER_REDIS_TLS_CA_FILE": "/etc/ssl/ca.pem",
                           "SCRIPTHAMMER_REDIS_TLS_VERIFY": "true"})
    assert cfg.redis_options() == {"username": "companion", "password": "pw", "ssl_cert_reqs": "required",
                                   "ssl_check_hostname": True, "ssl_ca_certs": "/etc/ssl/ca.pem"}
    assert Config.from_env({}).redis_options() == {}


def _certs(folder) -> dict:
    """A certificate authority and a server certificate for 127.0.0.1 (openssl)."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=shm-test-ca",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr")
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "ext.cnf", "-out", "server.pem")
    return {n: str(folder / f) for n, f in (("ca", "ca.pem"), ("cert", "server.pem"), ("key", "server.key"))}


def test_redis_over_tls(tmp_path):
    certs = _certs(tmp_path)
    port = free_port()
    proc = _redis(tmp_path, "--port", "0", "--tls-port", str(port), "--tls-cert-file", certs["cert"],
                  "--tls-key-file", certs["key"], "--tls-ca-cert-file", certs["ca"], "--tls-auth-clients", "no",
                  "--requirepass", PASSWORD)
    try:
        wait_for_port(port)
        url = f"rediss://127.0.0.1:{port}/0"
        ok = build_config(tmp_path / "a", f"sqlite:///{tmp_path / 'a.db'}", url, redis_password=PASSWORD,
                          redis_tls_ca_file=certs["ca"])
        assert _release_through(ok, tmp_path) == (202, "finished")
        untrusted = build_config(tmp_path / "b", f"sqlite:///{tmp_path / 'b.db'}", url, redis_password=PASSWORD)
        assert _release_through(untrusted, tmp_path) == (503, "queue_unavailable")  # not our CA: refused
        plain = build_config(tmp_path / "c", f"sqlite:///{tmp_path / 'c.db'}", f"redis://127.0.0.1:{port}/0",
                             redis_password=PASSWORD)
        assert _release_through(plain, tmp_path) == (503, "queue_unavailable")  # TLS only
    finally:
        stop_group(proc)
