"""What notifications say, and what their users see."""

import html
import re
import uuid


def unique_title(label):
    """A notification title no other test uses: tests share the users' notification servers,
    so each one finds its own notifications by title."""
    return f"{label} {uuid.uuid4().hex[:8]}"


def displayed_text(body):
    """The text a user sees for a body both test servers render as Pango markup (dunst with
    markup=full, mako with markup=1): tags are formatting, entities are characters."""
    return html.unescape(re.sub(r"<[^>]*>", "", body))


def titles(container, user):
    """The titles of every notification the user's server showed (see Container.notifications)."""
    return [n["summary"] for n in container.notifications(user)]
