"""The app factory: wires configuration, services, blueprints and error handlers."""
from __future__ import annotations

from flask import Flask, current_app, jsonify, redirect
from flask_cors import CORS
from flask_smorest import Api

from companion import __version__
from companion.config import Config
from companion.errors import register_error_handlers
from companion.services import Services


def services() -> Services:
    """The Services of the running app."""
    return current_app.extensions["scripthammer"]


def create_app(config: Config | None = None) -> Flask:
    """Build the companion's Flask app from ``config`` (default: the environment)."""
    config = config or Config.from_env()
    app = Flask("companion")
    app.config.update(
        SCRIPTHAMMER=config,
        MAX_CONTENT_LENGTH=config.max_upload_bytes,
        JSON_SORT_KEYS=False,
        API_TITLE="ScriptHammer music companion",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        OPENAPI_REDOC_PATH="redoc",
        OPENAPI_REDOC_URL="https://cdn.jsdelivr.net/npm/redoc/bundles/redoc.standalone.js",
        TESTING=config.testing,
    )
    app.extensions["scripthammer"] = Services(config)
    api = Api(app, spec_kwargs={
        "info": {"description": "Composition state, audio work and releases for the ScriptHammer band."},
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "A member, guest or listener token."},
            "signed": {"type": "apiKey", "in": "header", "name": "X-ScriptHammer-Signature",
                       "description": "HMAC-SHA256 signed service request (WordPress)."},
        }},
    })
    register_error_handlers(app)
    CORS(app, resources={r"/api/*": {"origins": "*"}}, allow_headers=[
        "Authorization", "Content-Type", "X-Filename", "X-ScriptHammer-Timestamp", "X-ScriptHammer-Nonce",
        "X-ScriptHammer-Signature"], expose_headers=["Location"], supports_credentials=False, max_age=600)
    _register_blueprints(api)

    @app.get("/")
    def _root():
        return redirect("/api/docs")

    @app.get("/api")
    def _index():
        return jsonify({"name": "ScriptHammer music companion", "version": __version__,
                        "openapi": "/api/openapi.json", "docs": "/api/docs"})

    return app


def _register_blueprints(api: Api) -> None:
    from companion.analytics.api import blp as analytics_blp
    from companion.band.api import blp as band_blp
    from companion.catalog.api import blp as catalog_blp
    from companion.compositions.api import blp as compositions_blp
    from companion.embed.api import blp as embed_blp
    from companion.health.api import blp as health_blp
    from companion.render.api import blp as render_blp
    from companion.storage.api import blp as media_blp
    from companion.tasks.api import blp as jobs_blp
    from companion.wordpress.api import blp as wordpress_blp

    for blp in (band_blp, catalog_blp, jobs_blp, health_blp, media_blp, compositions_blp, render_blp,
                wordpress_blp, embed_blp, analytics_blp):
        api.register_blueprint(blp)
