from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty.core.scopes import SCOPES
from loyalty.integrations.models import DEFAULT_RATE_PER_MINUTE, ApiClient
from loyalty.integrations.services import api_client_create


class Command(BaseCommand):
    help = "Create an API client and print its key (shown this once; only a hash is kept)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            default=[],
            choices=list(SCOPES),
            help="repeat for each scope",
        )
        parser.add_argument("--store", help="store code the key is bound to")
        parser.add_argument("--channel", default="", help="channel the key is bound to")
        parser.add_argument("--rate", type=int, default=DEFAULT_RATE_PER_MINUTE)

    def handle(self, *args: Any, **options: Any) -> None:
        store = None
        if options["store"]:
            # the store model is members', above integrations: reached through the key's relation
            store_model = ApiClient._meta.get_field("store").related_model
            assert store_model is not None and not isinstance(store_model, str)
            store = store_model._default_manager.filter(code=options["store"].upper()).first()
            if store is None:
                raise CommandError(f"Unknown store {options['store']!r}.")
        try:
            created = api_client_create(
                name=options["name"],
                scopes=options["scopes"],
                store=store,
                channel=options["channel"],
                rate_limit_per_minute=options["rate"],
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from exc
        client = created.client
        self.stderr.write(
            f"Created API client {client.name} (prefix {client.prefix}, scopes "
            f"{', '.join(client.scopes) or 'none'}). The key is shown this once:"
        )
        self.stdout.write(created.key)
