"""The Chalice application: builds the app and registers blueprints and middleware."""

from __future__ import annotations

import logging

from chalice import Chalice

from chalicelib import events
from chalicelib.api import BLUEPRINTS
from chalicelib.api.auth import require_basic_auth
from chalicelib.api.http import decode_path_parameters
from chalicelib.config import get_settings

logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("chalicelib").setLevel(get_settings().log_level)

app = Chalice(app_name="plimsoll")
app.register_middleware(require_basic_auth, "http")
app.register_middleware(decode_path_parameters, "http")
for blueprint in BLUEPRINTS:
    app.register_blueprint(blueprint)
app.register_blueprint(events.blueprint)
