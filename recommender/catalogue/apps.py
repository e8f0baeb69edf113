from django.apps import AppConfig
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save


def catalogue_changed(using: str = "default", **kwargs) -> None:
    """Drop this process's catalogue snapshot now (this transaction's answers read the database) and again at
    commit (a snapshot another thread built before the commit would still hold the old rows)."""
    from recommender.catalogue.snapshot import holder

    holder.forget()
    transaction.on_commit(holder.forget, using=using)


class CatalogueConfig(AppConfig):
    name = "recommender.catalogue"
    label = "catalogue"
    verbose_name = "Book catalogue"

    def ready(self) -> None:
        from recommender.catalogue.models import Book, BookLink, Link

        # This process's answers show its own edits at once (other processes' within the snapshot's age). Not
        # post_delete of BookLink: a delete listener makes Django fetch every row a bulk delete removes (an import
        # with --replace: 772,798), and a link removed from a book re-folds it, which starts a new snapshot anyway.
        for model in (Book, Link, BookLink):
            post_save.connect(catalogue_changed, sender=model, dispatch_uid=f"snapshot-save-{model.__name__}")
        for model in (Book, Link):
            post_delete.connect(catalogue_changed, sender=model, dispatch_uid=f"snapshot-delete-{model.__name__}")
        m2m_changed.connect(catalogue_changed, sender=Book.links.through, dispatch_uid="snapshot-m2m")
