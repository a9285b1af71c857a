from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from server.deps import StoreDep
from server.routing import GuardedRoute
from server.schemas import BODY_ERRORS, ErrorResponse, ItemCreate, ItemPublic, header

router = APIRouter(prefix="/items", tags=["items"], route_class=GuardedRoute)

# SQLite stores integers up to 2**63 - 1; a larger id cannot name an item.
ItemId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the item's id")]
NOT_FOUND = {404: {"model": ErrorResponse, "description": "No such item"}}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {"description": "Created", "headers": {"Location": header("the item's URL")}},
        **BODY_ERRORS,
    },
)
async def create_item(body: ItemCreate, store: StoreDep, response: Response) -> ItemPublic:
    """Add an item; its URL is in the Location header."""
    item = await store.create_item(body.name, body.description)
    response.headers["Location"] = f"/items/{item.id}"
    return ItemPublic.of(item)


@router.get("")
async def list_items(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
) -> list[ItemPublic]:
    """Items by id, a page at a time."""
    return [ItemPublic.of(i) for i in await store.list_items(limit, offset)]


@router.get("/{item_id}", responses=NOT_FOUND)
async def get_item(item_id: ItemId, store: StoreDep) -> ItemPublic:
    """One item by id."""
    item = await store.get_item(item_id)
    if item is None:
        raise HTTPException(status_code=404, detail=f"item {item_id} not found")
    return ItemPublic.of(item)


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_item(item_id: ItemId, store: StoreDep) -> None:
    """Delete one item."""
    if not await store.delete_item(item_id):
        raise HTTPException(status_code=404, detail=f"item {item_id} not found")
