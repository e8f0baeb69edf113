"""Template context for every page: the command that trains a model, named once (embeddings.serving)."""

from django.http import HttpRequest

from embeddings.serving import TRAIN_COMMAND


def train_command(request: HttpRequest) -> dict:
    return {"train_command": TRAIN_COMMAND}
