"""Request parameters of the API: parsed and checked, or BadRequest with a message saying what is wrong."""

import json

MAX_ID = 2**63 - 1  # database ids are 64-bit: a larger number is no id at all


class BadRequest(ValueError):
    """Bad parameters or body: answered with HTTP 400."""


def parse_json_object(body: bytes, allowed: set[str]) -> dict:
    if not body:
        raise BadRequest("the body is empty: send a JSON object")
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")
    return data


def int_param(raw: object, name: str, default: int, low: int, high: int) -> int:
    """An integer within [low, high] from a query string or JSON value; bools and floats are refused."""
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool | float):
        raise BadRequest(f"{name} must be an integer from {low} to {high}")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be an integer from {low} to {high}, not {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be from {low} to {high}, not {value}")
    return value


def id_list(raw: object, name: str, limit: int) -> list[int]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
        raise BadRequest(f"{name} must be a list of integer book ids")
    if len(raw) > limit:
        raise BadRequest(f"{name} holds {len(raw)} ids; at most {limit} are allowed")
    if any(not -MAX_ID <= v <= MAX_ID for v in raw):
        raise BadRequest(f"{name} holds an id beyond 64 bits")
    return list(dict.fromkeys(raw))
