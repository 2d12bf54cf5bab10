"""Run the API and an in-process worker on one machine: what `make run` starts.

It builds the services first (migrations, the default bundle, queued work left by an earlier
run), then serves the Chalice app with Chalice's local server on `HOST`:`PORT`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from chalice.cli.factory import CLIFactory

from chalicelib.config import get_settings
from chalicelib.service.context import get_services
from chalicelib.service.images import requeue_unfinished

logger = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parents[1]


def main() -> None:
    """Start the local server and serve until interrupted."""
    settings = get_settings()
    factory = CLIFactory(str(PROJECT_DIR))
    app = factory.load_chalice_app()
    services = get_services()
    if not settings.queue_url:
        requeue_unfinished(services)
    config = factory.create_config_obj(chalice_stage_name="local")
    server = factory.create_local_server(app, config, settings.host, settings.port)
    logger.info(
        "serving the v1 API: url=http://%s:%d/v1 data_dir=%s",
        settings.host,
        settings.port,
        settings.data_dir,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("stopped by interrupt")
    sys.exit(0)


if __name__ == "__main__":
    main()
