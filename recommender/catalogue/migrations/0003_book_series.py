from django.db import migrations, models


def fill_series(apps, schema_editor):
    from recommender.catalogue.series import assign_series

    Book = apps.get_model("catalogue", "Book")
    rows = list(Book.objects.values_list("id", "title", "infobox"))
    wanted = assign_series(rows)
    books = [Book(id=book_id, series=wanted[book_id][:500]) for book_id, _, _ in rows if wanted[book_id]]
    Book.objects.bulk_update(books, ["series"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0002_title_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="book",
            name="series",
            field=models.CharField(blank=True, editable=False, help_text="Normalised series name", max_length=500),
        ),
        migrations.RunPython(fill_series, migrations.RunPython.noop),
    ]
