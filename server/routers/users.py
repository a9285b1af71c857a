import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from pydantic import AfterValidator

from server.deps import CurrentUser, StoreDep
from server.routing import GuardedRoute
from server.schemas import ErrorResponse, UserPublic

router = APIRouter(prefix="/users", tags=["users"], route_class=GuardedRoute)


# Letters, digits, '_', '-' and dots, never two dots in a row; written without backtracking
# traps so that any regex engine (and a fuzzer generating from the schema) copes with it.
USERNAME_PATTERN = r"^\.?(?:[A-Za-z0-9_-]+\.)*[A-Za-z0-9_-]*$"
_USERNAME = re.compile(USERNAME_PATTERN)


def _valid_username(name: str) -> str:
    if not 1 <= len(name) <= 64 or not _USERNAME.match(name):
        raise ValueError(
            "a username is 1 to 64 characters of A-Z, a-z, 0-9, '_', '.' and '-', without '..'"
        )
    return name


Username = Annotated[
    str,
    Path(
        description="1-64 of [A-Za-z0-9_.-], without '..'",
        json_schema_extra={"pattern": USERNAME_PATTERN, "minLength": 1, "maxLength": 64},
    ),
    AfterValidator(_valid_username),
]


@router.get("")
@router.get("/", include_in_schema=False)
async def list_users(store: StoreDep) -> list[UserPublic]:
    """Every user."""
    return [UserPublic(username=u.username) for u in await store.list_users()]


@router.get("/me")
async def read_current_user(user: CurrentUser) -> UserPublic:
    """The current user."""
    return user


@router.get(
    # :path, so that a name with a "/" reaches the validator and gets a 422 naming the problem
    # rather than a bare 404 (a control character never gets here: server/middleware.py).
    "/{username:path}", responses={404: {"model": ErrorResponse, "description": "No such user"}}
)
async def get_user(username: Username, store: StoreDep) -> UserPublic:
    """One user by name."""
    user = await store.get_user(username)
    if user is None:
        raise HTTPException(404, f"user {username!r} not found")
    return UserPublic(username=user.username)
