"""Backtest jobs: start a ``rules test`` over a period, read its result (backtests.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError

from services.api.auth import Principal, require_read, require_write
from services.api.backtests import BacktestRunner, Busy
from services.api.deps import busy, not_found
from services.api.models import BacktestBody, errors

router = APIRouter(tags=["backtests"], responses=errors(401, 403, 413))


def runner(request: Request) -> BacktestRunner:
    r: BacktestRunner = request.app.state.backtests
    return r


Runner = Annotated[BacktestRunner, Depends(runner)]


@router.post(
    "/backtests",
    status_code=202,
    summary="Start a backtest of a rule file",
    responses=errors(400, 429),
)
def start_backtest(
    body: BacktestBody,
    who: Annotated[Principal, Depends(require_write)],
    jobs: Runner,
) -> dict[str, Any]:
    """Runs ``tocsin rules test`` over the stored history in the background; poll
    ``GET /backtests/{job_id}`` for its status and result."""
    if len(body.rules.encode()) > 1_000_000:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "rules"),
                    "msg": "larger than 1,000,000 bytes",
                    "type": "value_error",
                }
            ]
        )
    try:
        job = jobs.submit(
            rules=body.rules,
            since=body.since,
            until=body.until,
            examples=body.examples,
            by=who.name,
        )
    except Busy as exc:
        raise busy(exc) from None
    job.pop("result", None)
    return job


@router.get(
    "/backtests/{job_id}",
    summary="A backtest: status (queued, running, succeeded, failed), result when done",
    dependencies=[Depends(require_read)],
    responses=errors(404),
)
def get_backtest(job_id: str, jobs: Runner) -> dict[str, Any]:
    job = jobs.get(job_id)
    if job is None:
        raise not_found("backtest", job_id)
    return job


@router.get("/backtests", summary="Backtests, newest first", dependencies=[Depends(require_read)])
def list_backtests(jobs: Runner, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    return {"items": jobs.recent(limit)}
