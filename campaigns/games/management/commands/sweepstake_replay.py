"""Replay a sweepstake's draw from its stored seed and entries (docs/sweepstakes.md)."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.games.draw import draw_check, draw_winners, seed_fingerprint
from campaigns.games.models import Sweepstake
from campaigns.games.selectors import sweepstake_entry_pairs, sweepstake_winners


class Command(BaseCommand):
    help = (
        "Replay a drawn sweepstake: check SHA-256(seed) against the committed fingerprint and "
        "recompute the winners from the seed and the entries (campaigns/games/draw.py). Prints "
        "MATCH, or MISMATCH with the differences and exits with status 1. With --file, replays "
        "the draw record the API published (GET /api/v1/games/sweepstakes/<id>/draw/) instead "
        "of the database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sweepstake", nargs="?", help="The sweepstake's id or exact name.")
        parser.add_argument("--file", help="A JSON draw record saved from the API.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["file"]:
            record = self._from_file(options["file"])
        elif options["sweepstake"]:
            record = self._from_database(options["sweepstake"])
        else:
            raise CommandError("Give a sweepstake id or name, or --file.")
        entries, recorded = record["entries"], record["recorded"]
        self.stdout.write(
            f"Sweepstake {record['id']} “{record['name']}”: {len(entries)} entries, "
            f"{record['winners']} winner(s) to draw"
        )
        self.stdout.write(f"committed fingerprint: {record['fingerprint']}")
        self.stdout.write(f"SHA-256(revealed seed): {seed_fingerprint(record['seed'])}")
        replayed = draw_winners(seed=record["seed"], entries=entries, winners=record["winners"])
        members = dict(entries)
        for label, ids in (("replayed", replayed), ("recorded", recorded)):
            listed = ", ".join(
                f"{place}. entry {pk} (member {members.get(pk, '?')})"
                for place, pk in enumerate(ids, start=1)
            )
            self.stdout.write(f"{label} winners: {listed or '-'}")
        problems = draw_check(
            seed=record["seed"],
            fingerprint=record["fingerprint"],
            entries=entries,
            winners=record["winners"],
            recorded=recorded,
        )
        if problems:
            raise CommandError("MISMATCH: " + "; ".join(problems))
        self.stdout.write("MATCH")

    def _from_database(self, ref: str) -> dict[str, Any]:
        query = Sweepstake.objects.filter(name=ref)
        if ref.isdigit():
            query = Sweepstake.objects.filter(pk=int(ref)) | query
        sweepstake = query.first()
        if sweepstake is None:
            raise CommandError(f"No sweepstake with id or name {ref!r}.")
        if sweepstake.drawn_at is None:
            raise CommandError(f"{sweepstake.name} is not drawn yet: its seed is still secret.")
        return {
            "id": sweepstake.pk,
            "name": sweepstake.name,
            "seed": sweepstake.seed,
            "fingerprint": sweepstake.seed_sha256,
            "winners": sweepstake.winners,
            "entries": sweepstake_entry_pairs(sweepstake=sweepstake),
            "recorded": [entry.pk for entry in sweepstake_winners(sweepstake=sweepstake)],
        }

    def _from_file(self, path: str) -> dict[str, Any]:
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            return {
                "id": data["id"],
                "name": data["name"],
                "seed": data["seed"],
                "fingerprint": data["seed_sha256"],
                "winners": data["winners_to_draw"],
                "entries": [(e["entry_id"], e["member_id"]) for e in data["entries"]],
                "recorded": [
                    w["entry_id"] for w in sorted(data["winners"], key=lambda w: w["place"])
                ],
            }
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"Cannot read the draw record {path}: {exc}") from exc
