"""``notification_created``: sent after the transaction that created a notification commits.

A real-time channel (websocket push, e-mail) can receive it without touching job code::

    notification_created.connect(push_to_browser)  # receives notification=<Notification>
"""

from django.dispatch import Signal

notification_created = Signal()
