"""Signals patterns sends about lane suggestions, for apps it must not know (notifications' webhooks).

Each is sent inside the transaction that makes it true, so what a receiver writes commits with it:

- ``suggestions_created``: ``organization_id``, ``suggestions`` (the Pending rows one analysis inserted)
- ``suggestion_accepted``: ``suggestion`` (now Accepted), ``lane`` (the new dedicated lane)
- ``suggestion_rejected``: ``suggestion`` (now Rejected)
"""

from django.dispatch import Signal

suggestions_created = Signal()
suggestion_accepted = Signal()
suggestion_rejected = Signal()
