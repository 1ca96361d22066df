"""Schema composition only."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from graphql import GraphQLError

from api.errors import EXPOSED_CODES
from api.mutations import Mutation
from api.event_types import EVENT_TYPES
from api.history import HistoryQueries
from api.queries import ServerQueries
from api.subscriptions import Subscription


@strawberry.type
class Query(ServerQueries, HistoryQueries):
    pass


def _should_mask(error: GraphQLError) -> bool:
    if error.original_error is None:
        return False  # parse and validation errors describe the request, not our internals
    code = (error.extensions or {}).get("code")
    return code not in EXPOSED_CODES


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=EVENT_TYPES,
    extensions=[
        QueryDepthLimiter(max_depth=20),
        MaxAliasesLimiter(max_alias_count=50),
        MaxTokensLimiter(max_token_count=5000),
        MaskErrors(should_mask_error=_should_mask, error_message="Internal server error."),
    ],
)


def sdl() -> str:
    return schema.as_str() + "\n"
