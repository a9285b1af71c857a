from fastapi import APIRouter

from server.deps import JobsDep, ModelsDep
from server.routing import GuardedRoute
from server.schemas import JobPublic

router = APIRouter(prefix="/jobs", tags=["jobs"], route_class=GuardedRoute)


@router.get("")
async def list_jobs(jobs: JobsDep, models: ModelsDep) -> list[JobPublic]:
    """The jobs a task can run: how each runs, and its parameters as JSON Schema."""
    names = models.names()
    return [
        JobPublic(
            name=spec.name, description=spec.description, runs=spec.kind,
            parameters=spec.schema(names),
        )
        for spec in jobs.specs()
    ]
