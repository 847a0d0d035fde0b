"""What the bot tells a channel's admins about the channel itself. Pure.

Said once per channel and problem (the delivery worker remembers it in the
store), in the channel, since that is where its admins look.
"""

from __future__ import annotations

from bot.notify.models import Embed, Post

COLOR_WARNING = 0xE74C3C
NO_THREADS_FOOTER = "kvm-patchbot · notice · threads"


def no_threads_notice() -> Post:
    return Post(
        embeds=(
            Embed(
                title="kvm-patchbot cannot use threads in this channel",
                description=(
                    "It needs the **Create Public Threads** and **Send Messages in Threads** "
                    "permissions here. Until it has them, each series' patches are posted as "
                    "replies under the series card. Once the permissions are granted, new "
                    "patches go to threads again."
                ),
                color=COLOR_WARNING,
                footer=NO_THREADS_FOOTER,
            ),
        )
    )
