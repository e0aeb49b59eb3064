"""A live companion with compositions and the studio built; Chromium is the root conftest's ``browser``.

One companion per session (SQLite, its own Redis) serves the studio and the API on a free port, in
threads (live updates hold a request open). Each test makes its own composition with
:func:`make_song`, so tests do not see each other's commits.
"""
from __future__ import annotations

import datetime as dt
import itertools
import subprocess
from pathlib import Path

import pytest

from tests.conftest import build_config, prepare, serving

ROOT = Path(__file__).resolve().parents[2]
STUDIO_DIR = ROOT / "studio"
OUTPUT = ROOT / "var" / "test-output" / "studio"
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")

PARTS = [
    {"id": "piano", "name": "Piano", "kind": "melody", "owner": "ivory", "program": 0, "channel": 0},
    {"id": "bass", "name": "Bass", "kind": "rhythm", "owner": "crash", "program": 33, "channel": 1},
    {"id": "guitar", "name": "Guitar", "kind": "harmony", "owner": "chops", "program": 27, "channel": 2},
]
_seq = itertools.count(1)


def build_studio() -> Path:
    """npm ci (when node_modules is missing) and npm run build when a source is newer; the dist folder."""
    if not (STUDIO_DIR / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=STUDIO_DIR, check=True)
    dist = STUDIO_DIR / "dist" / "studio.js"
    sources = list((STUDIO_DIR / "src").glob("*")) + [STUDIO_DIR / "build.mjs", STUDIO_DIR / "package-lock.json"]
    if not dist.exists() or max(p.stat().st_mtime for p in sources) > dist.stat().st_mtime:
        subprocess.run(["npm", "run", "build", "--silent"], cwd=STUDIO_DIR, check=True, capture_output=True)
    return dist.parent


class Live:
    def __init__(self, app, url, tokens, config):
        self.app, self.url, self.tokens, self.config = app, url, tokens, config
        from companion.band.roster import load_band
        from companion.compositions.store import Store

        self.store = Store(config.compositions_dir)
        self.band = load_band(ROOT / "companion" / "band" / "band.toml")

    def actor(self, who):
        from companion.compositions.rights import member_actor

        return member_actor(self.band, who)

    def auth(self, who="ivory"):
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def token(self, role, **kw):
        from jobs import context
        from companion.band.tokens import create_token

        with context.services().db.session() as s:
            _, tok = create_token(s, role=role, **kw)
        return tok

    def guest(self, comps, branches, parts, minutes=30):
        return self.token("guest", label="guest", expires_in=dt.timedelta(minutes=minutes),
                          scopes={"compositions": comps, "branches": branches, "parts": parts})

    def make_song(self, visibility="private", measures=4, stem="song"):
        """A composition with piano (Ivory), bass (Crash) and guitar (Chops): returns its id."""
        from companion.compositions import service as S

        cid = f"{stem}-{next(_seq)}"
        iv = self.actor("ivory")
        r = S.create_composition(self.store, self.band, iv, cid.replace("-", " ").title(), comp_id=cid, parts=PARTS,
                                 measures=measures, visibility=visibility)
        c = S.commit_change(self.store, self.band, iv, cid, "main", r["head"], "Tempo and piano", {
            "global": {"measures": {"1": "0 meter 4/4 ; 0 tempo 500000us"}},
            "parts": {"piano": {"measures": {"1": "0 C4 1 v80 ; 1 E4 1 v80 ; 2 G4 1 v80 ; 3 C5 1 v80",
                                             "2": "0 D4 2 v80 ; 2 F4 2 v80"}}}})
        c = S.commit_change(self.store, self.band, self.actor("crash"), cid, "main", c["id"], "Bass line", {
            "parts": {"bass": {"measures": {"1": "0 C2 2 v90 ; 2 G2 2 v90", "2": "0 D2 2 v90 ; 2 A2 2 v90"}}}})
        return cid

    def commit(self, who, cid, branch, message, changes):
        from companion.compositions import service as S

        head = self.store.head(self.store.repo(cid), branch)
        return S.commit_change(self.store, self.band, self.actor(who), cid, branch, head, message, changes)

    def part_text(self, cid, rev, part):
        repo = self.store.repo(cid)
        files = self.store.read_files(repo, self.store.resolve(repo, rev))
        return files[f"parts/{part}.txt"].decode()


@pytest.fixture(scope="session")
def live(tmp_path_factory, redis_url):
    from companion import create_app

    if not SOUNDFONT.exists():
        pytest.fail(f"{SOUNDFONT} is missing: apt-get install -y fluid-soundfont-gm (scripts/setup.sh)")
    build_studio()
    tmp = tmp_path_factory.mktemp("studio")
    config = build_config(tmp, f"sqlite:///{tmp / 'companion.db'}", redis_url)
    tokens = prepare(config)
    application = create_app(config)
    with serving(application) as url:
        yield Live(application, url, tokens, config)
    application.extensions["scripthammer"].close()


class Pages:
    def __init__(self, browser, live):
        self.browser, self.live, self.contexts = browser, live, []

    def open(self, cid, token, query="", width=1024, height=800):
        ctx = self.browser.new_context(viewport={"width": width, "height": height})
        self.contexts.append(ctx)
        pg = ctx.new_page()
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.goto(f"{self.live.url}/studio/{cid}{query}#token={token}")
        pg.wait_for_function("['ready', 'error'].includes(document.getElementById('studio').dataset.state)",
                             timeout=30000)
        return pg

    def close(self):
        for c in self.contexts:
            c.close()


@pytest.fixture
def pages(browser, live):
    p = Pages(browser, live)
    yield p
    p.close()


def shot(page, name):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def status(page) -> dict:
    return page.evaluate("(() => { const s = document.getElementById('status'); "
                         "return {text: s.textContent, kind: s.dataset.kind || '', code: s.dataset.code || ''}; })()")


def wait_status(page, pred_js: str, timeout=15000):
    """Wait for the status line to satisfy ``pred_js`` (``s`` is the element); a timeout says what it said."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"(() => {{ const s = document.getElementById('status'); return {pred_js}; }})()",
                               timeout=timeout)
    except PlaywrightTimeout:
        live = page.evaluate("document.getElementById('status').dataset.live || ''")
        raise AssertionError(f"the status never matched {pred_js}: it says {status(page)} (live: {live!r})") from None


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives Debian's Chromium with Playwright")
