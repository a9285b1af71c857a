from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from server.lifespan import Phase
from server.schemas import Alive, NotReady, Ready

router = APIRouter(tags=["health"])


@router.get("/livez")
async def livez() -> Alive:
    """Whether the process serves at all."""
    return Alive()


@router.get(
    "/readyz",
    response_model=Ready,
    responses={503: {
        "model": NotReady, "description": "Starting, stopping, or the database cannot be written"
    }},
)
async def readyz(request: Request) -> Ready | JSONResponse:
    """Whether every model is loaded, the database open and writable, the task runner started."""
    phase = request.app.state.phase
    if phase != Phase.READY:
        return JSONResponse({"status": phase}, status_code=503)
    problem = request.app.state.store.problem
    if problem is not None:
        return JSONResponse(
            {"status": "unavailable", "detail": f"database unavailable: {problem}"},
            status_code=503,
        )
    return Ready(models=request.app.state.registry.names())
