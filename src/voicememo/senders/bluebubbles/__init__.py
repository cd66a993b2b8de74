"""The BlueBubbles sender (a Mac running the BlueBubbles server with its Private API helper)."""

from voicememo.senders.bluebubbles.sender import BlueBubblesKind, BlueBubblesSender, BlueBubblesTimeouts

__all__ = ["BlueBubblesKind", "BlueBubblesSender", "BlueBubblesTimeouts"]
