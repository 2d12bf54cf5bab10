"""Run the API and an in-process worker on one machine: what `make run` starts.

It builds the services first (migrations, the default bundle, queued work left by an earlier
run), starts the watchers every `WATCH_INTERVAL_SECONDS` on a background thread, then serves
the Chalice app with Chalice's local server on `HOST`:`PORT`.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path

from chalice.cli.factory import CLIFactory
from chalice.local import ChaliceRequestHandler, LocalDevServer, RouteMatcher

from chalicelib.config import SettingsError, get_settings
from chalicelib.queue.interface import QueueError
from chalicelib.service.context import Services, get_services
from chalicelib.service.images import requeue_unfinished
from chalicelib.service.watch import run_watchers
from chalicelib.store import StoreError
from chalicelib.vulns.interface import FeedError
from chalicelib.vulns.sources import parse_feed_sources

logger = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parents[1]


class ApiRequestHandler(ChaliceRequestHandler):
    """Chalice's local request handler that returns 404 for paths no route matches.

    Chalice's local gateway imitates API Gateway there: a 403 whose message echoes the request's
    Authorization header, credentials included.
    """

    def __init__(self, *args: object, app_object: object, config: object) -> None:
        self._routes = RouteMatcher(list(app_object.routes))  # type: ignore[attr-defined]
        super().__init__(*args, app_object=app_object, config=config)  # type: ignore[arg-type]

    def _generic_handle(self) -> None:
        try:
            self._routes.match_route(self.path)
        except ValueError:
            self._parse_payload()
            body = {
                "httpcode": 404,
                "message": f"no API route matches {self.path.split('?')[0]}; "
                "the API is under /v1, for example /v1/images",
                "detail": {},
                "error_type": "client_error",
            }
            self._send_http_response(404, {"Content-Type": "application/json"}, json.dumps(body))
            return
        super()._generic_handle()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle


def _start_watch_loop(services: Services, interval: float) -> threading.Thread:
    """Run the watchers every `interval` seconds on a daemon thread, first after one interval."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                run_watchers(services)
            except Exception:  # noqa: BLE001 - the loop must outlive any one failed run
                logger.exception("watch run failed; trying again in %s s", interval)

    thread = threading.Thread(target=loop, name="plimsoll-watch", daemon=True)
    thread.start()
    logger.info("watchers scheduled: interval_seconds=%s", interval)
    return thread


def main() -> None:
    """Start the local server and serve until interrupted; exit 2 with a message on bad setup."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = get_settings()
        if settings.feed_sources:
            parse_feed_sources(settings.feed_sources)
    except (SettingsError, FeedError) as exc:
        sys.exit(f"plimsoll: {exc}")
    logging.getLogger("chalicelib").setLevel(settings.log_level)

    factory = CLIFactory(str(PROJECT_DIR))
    app = factory.load_chalice_app()
    try:
        services = get_services()
    except (OSError, StoreError) as exc:
        sys.exit(
            f"plimsoll: cannot open the database ({exc}); check DATA_DIR={settings.data_dir} "
            "and DATABASE_URL"
        )
    except QueueError as exc:
        sys.exit(f"plimsoll: cannot use QUEUE_URL={settings.queue_url} ({exc})")
    if not settings.queue_url:
        requeue_unfinished(services)
    if settings.watch_interval_seconds:
        _start_watch_loop(services, settings.watch_interval_seconds)
    config = factory.create_config_obj(chalice_stage_name="local")
    try:
        server = LocalDevServer(
            app, config, settings.host, settings.port, handler_cls=ApiRequestHandler
        )
    except OSError as exc:
        sys.exit(
            f"plimsoll: cannot listen on HOST={settings.host} PORT={settings.port} ({exc}); "
            "choose a free port with PORT or a local address with HOST"
        )
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


if __name__ == "__main__":
    main()
