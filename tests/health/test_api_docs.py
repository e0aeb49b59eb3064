"""/api/docs works offline: Swagger UI's page names no other host, and its assets are served here."""
from __future__ import annotations

import re


def test_api_docs_load_only_local_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.get_data(as_text=True))
    assert {u.rsplit("/", 1)[-1] for u in urls} >= {"swagger-ui.css", "swagger-ui-bundle.js"}
    assert not [u for u in urls if re.match(r"^(https?:)?//", u)], urls
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.data) > 1000, url
    bundle = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert b"SwaggerUIBundle" in bundle.data
    assert client.get("/api/docs/assets/../app.py").status_code == 404
