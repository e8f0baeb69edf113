"""{% training_notice %}: what a page without recommendations says about the model (none yet, one training)."""

from django import template

from embeddings.serving import TRAIN_COMMAND
from recommender.librarian.status import model_status

register = template.Library()


@register.inclusion_tag("librarian/_training_notice.html")
def training_notice(context_text: str = "") -> dict:
    """context_text names what will appear ("similar books", "recommendations") once a model is ready."""
    return {"status": model_status(), "what": context_text or "recommendations", "train_command": TRAIN_COMMAND}


@register.simple_tag
def active_model_is_stale() -> bool:
    """True when the served version was trained on a catalogue since replaced (its ids are gone)."""
    return model_status()["stale"]
