"""The `messages` table as a Django model, for the `django-orm` data layer (impl_django/orm.py).

Unmanaged: the table is the seed's (shared/seed.py, shared/schema.py), never Django's to create or
migrate. The fields are the schema's columns, so a `Message` holds a row whichever format reads it.
Imported by Django's app registry when the port's app is set up (`impl_django` is the app).
"""

from __future__ import annotations

from django.db import models

__all__ = ["Message"]


class Message(models.Model):
    id = models.BigIntegerField(primary_key=True)
    sender = models.TextField()
    recipient = models.TextField()
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        db_table = "messages"
        managed = False
