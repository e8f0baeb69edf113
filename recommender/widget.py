"""How many recommendations a widget shows: one limit for the iframe page and the script (which asks /api/widget/)."""

WIDGET_DEFAULT_K = 5
WIDGET_MAX_K = 20  # cards beyond this no longer fit a sidebar widget


def widget_k(raw: str | None) -> int:
    """The k a widget asked for, clamped to 1..WIDGET_MAX_K; junk gives the default."""
    try:
        return max(1, min(WIDGET_MAX_K, int(raw or WIDGET_DEFAULT_K)))
    except ValueError:
        return WIDGET_DEFAULT_K


def to_dict() -> dict:
    return {"default_k": WIDGET_DEFAULT_K, "max_k": WIDGET_MAX_K}
