"""Routes of stored policy evaluations beyond Anchore's API: replay."""

from __future__ import annotations

import logging

from chalice import Blueprint

from chalicelib.api.http import handles_errors, json_response
from chalicelib.service import policies as policy_service
from chalicelib.service.context import get_services

logger = logging.getLogger(__name__)

blueprint = Blueprint(__name__)


@blueprint.route("/v1/images/{digest}/evaluations/{eval_id}/replay", methods=["GET"])
@handles_errors
def replay_evaluation(digest: str, eval_id: str) -> object:
    """Recompute a stored evaluation from its recorded inputs; nothing is stored."""
    record, replay = policy_service.replay_evaluation(get_services(), digest, eval_id)
    final_action = str(replay.document.get("final_action", "stop"))
    return json_response(
        {
            "evalId": record.eval_id,
            "imageDigest": record.image_digest,
            "tag": record.tag,
            "policyId": record.policy_id,
            "status": "fail" if final_action == "stop" else "pass",
            "identical": replay.identical,
            "differences": list(replay.differences),
            "result": replay.document,
        }
    )
