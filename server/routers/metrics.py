from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from server.metrics import Metrics
from server.routing import GuardedRoute
from server.store import Store

router = APIRouter(tags=["metrics"], route_class=GuardedRoute)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: requests, tasks, models, build info."""
    app_metrics: Metrics = request.app.state.metrics
    store: Store = request.app.state.store
    counts = await store.count_tasks_by_job()
    body = app_metrics.scrape(
        ({"status": status.value, "job": job}, n) for (status, job), n in counts.items()
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)
