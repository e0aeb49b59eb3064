"""The app factory: wires configuration, services, blueprints and error handlers."""
from __future__ import annotations

from flask import Flask, jsonify, redirect
from flask_cors import CORS
from flask_smorest import Api

from companion import __version__
from companion.band.auth import init_app as init_auth
from companion.band.ratelimit import init_limiter
from companion.config import Config
from companion.errors import register_error_handlers
from companion.schema_fields import BoundedIntConverter, ErrorSchema
from companion.services import Services


class CompanionApi(Api):
    """flask-smorest's Api, declaring the companion's one error shape for every error response."""

    ERROR_SCHEMA = ErrorSchema


def create_app(config: Config | None = None) -> Flask:
    """Build the companion's Flask app from ``config`` (default: the environment)."""
    config = config or Config.from_env()
    app = Flask("companion", static_folder=None)  # nothing is served from a static folder (the player: /player/)
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
        # Swagger UI's assets come from the swagger-ui-bundle package, served here: /api/docs
        # works on a machine without internet.
        OPENAPI_SWAGGER_UI_URL="/api/docs/assets/",
        TESTING=config.testing,
    )
    app.extensions["scripthammer"] = Services(config)
    app.url_map.converters["int"] = BoundedIntConverter  # ids a BIGINT holds; larger ones match no route
    api = CompanionApi(app, spec_kwargs={
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
    limiter = init_limiter(app, config)
    init_auth(app)
    _register_blueprints(api)
    from companion.analytics.api import limit_beacons
    from companion.commerce.api import limit_failures as limit_commerce_failures

    limit_beacons(limiter)
    limit_commerce_failures(limiter)
    from companion.live.api import limit_votes

    limit_votes(limiter)
    from companion.access.device_api import limit_device

    limit_device(limiter)
    from companion.analytics.feedback_api import limit_feedback

    limit_feedback(limiter)

    @app.get("/api/docs/assets/<path:name>")
    def _swagger_assets(name: str):
        import swagger_ui_bundle
        from flask import send_from_directory

        return send_from_directory(swagger_ui_bundle.swagger_ui_path, name, max_age=86400)

    @app.get("/")
    def _root():
        return redirect("/api/docs")

    @app.get("/api")
    def _index():
        return jsonify({"name": "ScriptHammer music companion", "version": __version__,
                        "openapi": "/api/openapi.json", "docs": "/api/docs"})

    return app


def _register_blueprints(api: Api) -> None:
    from companion.access.api import blp as access_blp
    from companion.access.device_api import blp as device_blp
    from companion.access.device_api import confirm_blp as device_confirm_blp
    from companion.algorithms.api import blp as algorithms_blp
    from companion.analytics.ab_api import blp as ab_tests_blp
    from companion.analytics.api import blp as analytics_blp
    from companion.analytics.feedback_api import blp as feedback_blp
    from companion.analytics.feedback_api import moderation_blp as feedback_moderation_blp
    from companion.analytics.report_api import blp as analytics_reports_blp
    from companion.band.api import blp as band_blp
    from companion.catalog.api import blp as catalog_blp
    from companion.commerce.api import blp as commerce_blp
    from companion.commerce.api import pricing_blp
    from companion.compositions.api import blp as compositions_blp
    from companion.embed.api import blp as embed_blp
    from companion.health.api import blp as health_blp
    from companion.live.api import blp as live_blp
    from companion.live.api import votes_blp as live_votes_blp
    from companion.live.api import broadcasts_blp as live_broadcasts_blp
    from companion.notify.api import blp as push_blp
    from companion.privacy.api import blp as privacy_blp
    from companion.render.api import blp as render_blp
    from companion.rights.api import blp as rights_blp
    from companion.rights.credits_api import blp as credits_blp
    from companion.samples.api import blp as samples_blp
    from companion.storage.api import blp as media_blp
    from companion.studio.api import blp as studio_blp
    from companion.tasks.api import blp as jobs_blp
    from companion.wordpress.api import blp as wordpress_blp

    for blp in (band_blp, catalog_blp, jobs_blp, health_blp, media_blp, compositions_blp, algorithms_blp, render_blp,
                wordpress_blp, embed_blp, analytics_blp, access_blp, samples_blp, commerce_blp,
                rights_blp, credits_blp, ab_tests_blp, analytics_reports_blp, studio_blp, live_blp, live_votes_blp,
                live_broadcasts_blp, pricing_blp, device_blp, device_confirm_blp, feedback_blp,
                feedback_moderation_blp, push_blp, privacy_blp):
        api.register_blueprint(blp)
