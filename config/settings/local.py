"""Developer profile: the base settings as they are (DEBUG on by default)."""

from .base import *  # noqa: F403
