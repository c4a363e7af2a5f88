"""Print an API token for a user (created once; the same token on every later run).

Usage:
    manage.py issue_token USERNAME            # prints the token
    manage.py issue_token USERNAME --rotate   # replaces it (the old one stops working)

The API expects it as ``Authorization: Token <key>``. The user needs an organization membership.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from patterns.models import Membership


class Command(BaseCommand):
    help = "Print (creating if needed) the API token of a user."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--rotate", action="store_true", help="Replace the user's token with a new one.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        if not user.is_active:
            raise CommandError(f"User {user.username!r} is inactive.")
        if not Membership.objects.filter(user=user).exists():
            self.stderr.write(f"warning: {user.username} has no organization membership; the API will answer 403.")
        if options["rotate"]:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
